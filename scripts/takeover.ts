/**
 * Run by the cartie:platform:Takeover command resources (`pulumi up`), one step per resource:
 *   node --import tsx scripts/takeover.ts <preflight|backup|takeover>
 * Inputs come from the environment the resource sets; every line printed is masked.
 */
import * as path from "node:path";
import { maskSecrets } from "../lib/env";
import { dockerHost } from "../lib/takeover/host";
import { TakeoverRefused } from "../lib/takeover/plan";
import { StepContext, backup, preflight, takeover } from "../lib/takeover/steps";
import { takeoverIdentityFromEnv } from "../components/takeover";
import { TAKEOVER_STEPS, TakeoverStep } from "../lib/takeover/types";
import { requireEnv } from "./env";

const need = (name: string): string => requireEnv(name, "cartie:platform:Takeover");

async function main(): Promise<void> {
    const step = process.argv[2] as TakeoverStep | undefined;
    if (!step || !TAKEOVER_STEPS.includes(step)) {
        console.error(`usage: node --import tsx scripts/takeover.ts <${TAKEOVER_STEPS.join("|")}>`);
        process.exit(2);
    }
    const password = need("CARTIE_POSTGRES_PASSWORD");
    const port = Number(need("CARTIE_PUBLIC_PORT"));
    if (!Number.isInteger(port) || port < 1 || port > 65535) {
        console.error(`takeover: CARTIE_PUBLIC_PORT "${process.env.CARTIE_PUBLIC_PORT}" is not a port`);
        process.exit(2);
    }
    const mask = (s: string): string => maskSecrets(s, [password]);
    const ctx: StepContext = {
        host: dockerHost(),
        inputs: {
            project: need("CARTIE_LEGACY_PROJECT"),
            dataVolume: need("CARTIE_DATA_VOLUME"),
            postgresImage: need("CARTIE_POSTGRES_IMAGE"),
            publicPort: port,
            // Set by the component only when not the defaults, so existing stacks' commands are unchanged.
            ...takeoverIdentityFromEnv(process.env),
        },
        password,
        backupDir: path.resolve(process.env.CARTIE_BACKUP_DIR || "backups"),
        log: (line) => console.log(mask(line)),
    };
    try {
        if (step === "preflight") await preflight(ctx);
        else if (step === "backup") await backup(ctx);
        else await takeover(ctx);
    } catch (err) {
        const e = err as Error;
        console.error(mask(`takeover ${step}: ${err instanceof TakeoverRefused ? "refused: " : "failed: "}${e.message}`));
        process.exit(1);
    }
}

void main();
