/**
 * `npm run pulumi -- <args>`: the Pulumi CLI with this project's defaults (lib/restore/defaults.ts:
 * local state in `.pulumi/`, its passphrase file, the dev stack). Standard input, output and the
 * exit code are the CLI's own, so `… | npm run pulumi -- config set --secret …` works.
 */
import { spawnSync } from "node:child_process";
import { pulumiDefaults } from "../lib/restore/defaults";

const d = pulumiDefaults(process.env.CARTIE_PROJECT_DIR ?? process.cwd());
if (d.createdPassphrase) process.stderr.write(`cartie: created a passphrase for the local state's secrets in ${d.createdPassphrase} (keep it; back it up with the state)\n`);
const r = spawnSync("pulumi", ["--stack", d.stack, ...process.argv.slice(2)], { cwd: d.projectDir, env: d.env, stdio: "inherit" });
if (r.error) {
    process.stderr.write(`cartie: cannot run pulumi (${r.error.message}); \`npm run restore\` finds or installs it, or see https://www.pulumi.com/docs/install/\n`);
    process.exit(127);
}
process.exit(r.status ?? 1);
