/**
 * `npm run restore` on a machine without the Pulumi CLI: it never gets as far as touching Docker or
 * the state. Where get.pulumi.com answers it installs the SDK's version with Pulumi's installer;
 * where it does not (this machine kind) it says in one line how to get the CLI, and stops.
 */
import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { installerReachable } from "../../../lib/restore/cli";
import { makeEngineProject, PULUMI_VERSION } from "../support/engineStack";
import { exec } from "../support/run";

describe("real: npm run restore without a Pulumi CLI", function () {
    it("installs the project's version when Pulumi's installer answers, else says in one line how to get it, changing nothing", async () => {
        const dir = makeEngineProject();
        const home = fs.mkdtempSync(path.join(os.tmpdir(), "cartie-no-pulumi-home-"));
        try {
            // A PATH with node, npm and the usual tools, and no pulumi; a HOME with no ~/.pulumi.
            const bin = path.dirname(process.execPath);
            const env = { ...process.env, PATH: [bin, "/usr/local/bin", "/usr/bin", "/bin"].filter((d) => !fs.existsSync(path.join(d, "pulumi"))).join(":"), HOME: home, PULUMI_HOME: "", CI: "true" };
            const online = await installerReachable();
            const r = await exec("npm", ["run", "--silent", "restore", "--", "--yes"], { cwd: dir, env, timeoutMs: 600_000 });
            const text = `${r.stdout}${r.stderr}`;
            if (online) {
                assert.match(text, new RegExp(`no Pulumi CLI found: installing v${PULUMI_VERSION.replace(/\./g, "\\.")} \\(the project's @pulumi/pulumi\\)`));
            } else {
                assert.equal(r.code, 1, text);
                const lines = r.stderr.trim().split("\n").filter((l) => l.startsWith("cartie restore:"));
                assert.deepEqual(lines.length, 1, r.stderr);
                assert.match(lines[0], new RegExp(`no Pulumi CLI on PATH and get\\.pulumi\\.com does not answer: install Pulumi v${PULUMI_VERSION.replace(/\./g, "\\.")} \\(https://www\\.pulumi\\.com/docs/install/\\), or put an offline copy's folder first on PATH`));
                assert.ok(!fs.existsSync(path.join(dir, ".pulumi")), "a state folder or passphrase was created");
                assert.ok(!fs.existsSync(path.join(dir, ".env")), "secrets were generated before the CLI was there");
            }
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
            fs.rmSync(home, { recursive: true, force: true });
        }
    });
});
