/**
 * `npm run takeover:plan -- <compose project> [--store-password] [--stack NAME]`: the exact stack
 * settings that take a legacy compose project over (lib/takeover/planCli.ts). The password goes to
 * the Pulumi CLI (with this project's defaults, scripts/pulumi.sh) on its stdin only.
 */
import { spawn } from "node:child_process";
import * as path from "node:path";
import { dockerHost } from "../lib/takeover/host";
import { PulumiRunner, takeoverPlanMain } from "../lib/takeover/planCli";

const pulumi: PulumiRunner = (args, stdin, stack) =>
    new Promise((resolve) => {
        const child = spawn("bash", [path.join(__dirname, "pulumi.sh"), ...args], {
            env: { ...process.env, ...(stack ? { CARTIE_STACK: stack } : {}) },
            stdio: ["pipe", "pipe", "pipe"],
        });
        let stdout = "";
        let stderr = "";
        child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
        child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
        child.on("error", (e) => resolve({ code: -1, stdout, stderr: e.message }));
        child.on("close", (code) => resolve({ code: code ?? -1, stdout, stderr }));
        child.stdin.end(stdin);
    });

void takeoverPlanMain(process.argv.slice(2), {
    host: dockerHost(),
    pulumi,
    out: (line) => console.log(line),
    err: (line) => console.error(line),
}).then((code) => {
    process.exitCode = code;
});
