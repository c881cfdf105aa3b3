/** Command line of `npm run doctor`: parsing, running, exit codes (0 healthy, 1 unhealthy, 2 bad input). */
import { parseArgs as nodeParseArgs } from "node:util";
import { DoctorInputError } from "./errors";
import { renderJson, renderText } from "./render";
import { DoctorOptions, runDoctor } from "./run";

export const USAGE = `usage: npm run doctor -- [--stack NAME] [--legacy COMPOSE_PROJECT] [-c cartie:key=value]... [--only-stack] [--json] [--tail N] [--logs N] [--no-db] [--no-drift] [--cwd DIR]
  Reads the Docker host (DOCKER_HOST is honoured) and says what is wrong and what \`pulumi up\` does about it.
  With no --legacy it looks at the whole host: the stack's containers, a compose project that looks like the platform,
  and whatever publishes the platform's port; --only-stack looks at the stack's (and a named project's) containers only.
  Never changes anything.
  Exit 0 healthy, 1 unhealthy, 2 bad input (also: several compose projects look like the platform; it lists how to choose).`;

export interface CliArgs extends DoctorOptions {
    json: boolean;
    logLines: number;
    help: boolean;
}

export function parseArgs(argv: string[], env: NodeJS.ProcessEnv = process.env): CliArgs {
    let parsed: ReturnType<typeof parseCli>;
    try {
        parsed = parseCli(argv);
    } catch (err) {
        // node's messages name the flag: "Unknown option '--bogus'", "Option '--stack <value>' argument missing"
        throw new DoctorInputError(`${(err as Error).message.split(". ")[0]}\n${USAGE}`);
    }
    const v = parsed.values;
    const count = (value: string, flag: string): number => {
        const n = Number(value);
        if (!Number.isInteger(n) || n < 0 || n > 10000) throw new DoctorInputError(`${flag} must be a whole number from 0 to 10000, not "${value}"`);
        return n;
    };
    const overrides: Record<string, string> = {};
    for (const kv of v.config ?? []) {
        const eq = kv.indexOf("=");
        if (eq <= 0) throw new DoctorInputError(`--config takes cartie:key=value, not "${kv}"`);
        overrides[kv.slice(0, eq)] = kv.slice(eq + 1);
    }
    const args: CliArgs = {
        projectDir: v.cwd ?? process.cwd(),
        stack: v.stack ?? (env.PULUMI_STACK || "dev"),
        legacy: v.legacy,
        overrides,
        tail: v.tail === undefined ? 50 : Math.max(1, count(v.tail, "--tail")),
        logLines: v.logs === undefined ? 5 : count(v.logs, "--logs"),
        json: v.json ?? false,
        noDb: v["no-db"],
        noDrift: v["no-drift"],
        onlyStack: v["only-stack"],
        help: v.help ?? false,
    };
    if (!/^[A-Za-z0-9_.-]+$/.test(args.stack)) throw new DoctorInputError(`"${args.stack}" is not a stack name`);
    return args;
}

/** The flags, parsed strictly by node's own util.parseArgs. */
function parseCli(argv: string[]) {
    return nodeParseArgs({
        args: argv,
        strict: true,
        allowPositionals: false,
        options: {
            json: { type: "boolean" },
            "no-db": { type: "boolean" },
            "no-drift": { type: "boolean" },
            "only-stack": { type: "boolean" },
            help: { type: "boolean", short: "h" },
            stack: { type: "string", short: "s" },
            legacy: { type: "string" },
            cwd: { type: "string" },
            tail: { type: "string" },
            logs: { type: "string" },
            config: { type: "string", short: "c", multiple: true },
        },
    });
}

/** Runs the doctor; returns the exit code. Output goes through the given writers. */
export async function main(argv: string[], out: (s: string) => void = (s) => process.stdout.write(s), err: (s: string) => void = (s) => process.stderr.write(s)): Promise<number> {
    let args: CliArgs;
    try {
        args = parseArgs(argv);
        if (args.help) {
            out(`${USAGE}\n`);
            return 0;
        }
        const report = await runDoctor(args);
        out(`${args.json ? renderJson(report) : renderText(report, { logLines: args.logLines })}\n`);
        // Several candidates and nothing else to look at: the user has to choose (the output says how).
        if (report.choose && report.containers.length === 0) return 2;
        return report.healthy ? 0 : 1;
    } catch (e) {
        if (e instanceof DoctorInputError) {
            err(`doctor: ${e.message}\n`);
            return 2;
        }
        err(`doctor: internal error: ${(e as Error).message?.split("\n")[0] ?? String(e)}\n`);
        return 2;
    }
}
