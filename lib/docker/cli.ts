import { spawn } from "node:child_process";

export interface RunResult {
    code: number;
    stdout: string;
    stderr: string;
}

/**
 * Runs a program without a shell. Secrets travel in `env` (e.g. `docker run -e NAME` with no
 * value copies NAME from this environment), never in argv where `ps` would show them.
 */
export function run(cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; input?: string; timeoutMs?: number } = {}): Promise<RunResult> {
    return new Promise((resolve, reject) => {
        const child = spawn(cmd, args, { env: opts.env ?? process.env, stdio: ["pipe", "pipe", "pipe"], timeout: opts.timeoutMs });
        let stdout = "";
        let stderr = "";
        child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
        child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
        child.on("error", (err: NodeJS.ErrnoException) =>
            reject(err.code === "ENOENT" ? new Error(`${cmd} not found on PATH: install it (the Docker CLI is needed on the host that runs pulumi)`) : err),
        );
        child.on("close", (code) => resolve({ code: code ?? 1, stdout, stderr }));
        // A program that exits without reading its input (docker's `ps`, a failed `exec`) closes the
        // pipe first: that EPIPE is no error of the call, its exit code says what happened.
        child.stdin.on("error", () => undefined);
        child.stdin.end(opts.input ?? "");
    });
}

export async function docker(args: string[], opts: { env?: NodeJS.ProcessEnv; input?: string; timeoutMs?: number } = {}): Promise<RunResult> {
    return run("docker", args, opts);
}
