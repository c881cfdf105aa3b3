/**
 * The policy pack through the real CLI: `pulumi preview --policy-pack policies` runs `cartie-guard`
 * (policies/) in Pulumi's own analyzer host against the real program. The program passes it; a
 * secret the pack requires and the api does not carry blocks the preview with the rule's message,
 * before anything is created.
 */
import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { EngineFailed, EngineStack } from "../support/engineStack";
import { Cleanup, REPO } from "../support/run";

const PACK = path.join(REPO, "policies");

describe("real engine: pulumi preview --policy-pack policies", function () {
    const cleanup = new Cleanup();
    let s: EngineStack;

    before(async () => {
        s = await EngineStack.create(cleanup);
    });
    after(() => cleanup.run());

    it("the program passes cartie-guard: the pack ran and reported no violation", async () => {
        const preview = await s.preview({ policyPacks: [PACK] });
        assert.match(preview.stdout, /cartie-guard@v0\.1\.0/, `the pack did not run:\n${preview.stdout.slice(-3000)}`);
        assert.doesNotMatch(preview.stdout, /mandatory:|\[mandatory\]/);
        assert.deepEqual(preview.diagnostics.filter((d) => d.severity === "error"), []);
    });

    it("a secret the pack requires and the api does not carry (SMTP_PASSWORD, as an organisation's pack config might say) blocks the preview with the rule's message; nothing is created", async () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cartie-pack-config-"));
        cleanup.dir(dir);
        const config = path.join(dir, "policy-config.json");
        fs.writeFileSync(config, JSON.stringify({ "required-secrets": { apiVariables: ["DATABASE_URL", "JWT_SECRET", "SEED_SUPERADMIN_PASSWORD", "SMTP_PASSWORD"] } }));
        const err = await s.preview({ policyPacks: [PACK], policyPackConfigs: [config] }).then(
            () => undefined,
            (e: unknown) => e,
        );
        assert.ok(err instanceof EngineFailed, "the preview passed with a required secret missing");
        assert.match(err.text, /required-secrets/);
        assert.match(err.text, /does not set SMTP_PASSWORD in its environment \(envs\)/);
        assert.match(err.text, /mandatory/i);
        assert.deepEqual((await s.state()).resources.filter((r) => r.type.startsWith("docker:")), [], "something was created");
    });
});
