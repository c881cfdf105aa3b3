/**
 * Process, port and cleanup helpers shared by the real-service tests (caddy, migrations, images,
 * platform). Everything a test creates is registered with a `Cleanup` and removed in `after`.
 */
import { ChildProcess, spawn } from "node:child_process";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as net from "node:net";
import * as path from "node:path";

export const REPO = path.resolve(__dirname, "../../..");
/** Git-ignored (and lint-ignored) cache of host builds, kept between runs. */
export const CACHE_DIR = path.join(REPO, ".real-cache");

export interface Exec {
    code: number;
    stdout: string;
    stderr: string;
}

export interface ExecOptions {
    cwd?: string;
    /** Added to this process's environment (undefined removes a variable). */
    env?: Record<string, string | undefined>;
    input?: string;
    timeoutMs?: number;
}

function mergedEnv(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
    const env: NodeJS.ProcessEnv = { ...process.env };
    for (const [k, v] of Object.entries(extra)) {
        if (v === undefined) delete env[k];
        else env[k] = v;
    }
    return env;
}

/** Runs a program without a shell; never throws for a non-zero exit. */
export function exec(cmd: string, args: string[], opts: ExecOptions = {}): Promise<Exec> {
    return new Promise((resolve, reject) => {
        const child = spawn(cmd, args, { cwd: opts.cwd, env: mergedEnv(opts.env), stdio: ["pipe", "pipe", "pipe"], timeout: opts.timeoutMs ?? 600_000 });
        let stdout = "";
        let stderr = "";
        child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
        child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
        child.on("error", reject);
        child.on("close", (code, signal) => resolve({ code: code ?? (signal ? 128 : 1), stdout, stderr }));
        // A program that exits without reading stdin must not fail the call with EPIPE.
        child.stdin.on("error", () => undefined);
        child.stdin.end(opts.input ?? "");
    });
}

/** Like `exec`, but throws with the output when the exit code is not 0. */
export async function execOk(cmd: string, args: string[], opts: ExecOptions = {}): Promise<string> {
    const r = await exec(cmd, args, opts);
    if (r.code !== 0) throw new Error(`${cmd} ${args.join(" ")} failed (exit ${r.code}):\n${r.stdout.slice(-3000)}\n${r.stderr.slice(-3000)}`);
    return r.stdout;
}

/** Runs a command line the way @pulumi/command's `local.Command` runs `create`: `sh -c`, in the project directory. */
export function execLikeCommandResource(commandLine: string, environment: Record<string, string>, cwd: string = REPO): Promise<Exec> {
    return exec("/bin/sh", ["-c", commandLine], { cwd, env: environment });
}

export function docker(args: string[], opts: ExecOptions = {}): Promise<Exec> {
    return exec("docker", args, { ...opts, env: { DOCKER_BUILDKIT: "0", ...opts.env } });
}

export function dockerOk(args: string[], opts: ExecOptions = {}): Promise<string> {
    return execOk("docker", args, { ...opts, env: { DOCKER_BUILDKIT: "0", ...opts.env } });
}

/** A short random suffix for every name a run creates (other suites share dockerd concurrently). */
export function runId(): string {
    return crypto.randomBytes(3).toString("hex");
}

/** A TCP port free on 127.0.0.1 right now (the kernel picks it). */
export function freePort(): Promise<number> {
    return new Promise((resolve, reject) => {
        const srv = net.createServer();
        srv.unref();
        srv.on("error", reject);
        srv.listen(0, "127.0.0.1", () => {
            const addr = srv.address();
            srv.close(() => (typeof addr === "object" && addr ? resolve(addr.port) : reject(new Error("no port"))));
        });
    });
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls `check` until it returns a value (not undefined) or the time runs out; the error names `what` and the last problem. */
export async function waitFor<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 60_000, everyMs = 500): Promise<T> {
    const until = Date.now() + timeoutMs;
    let last = "";
    for (;;) {
        try {
            const v = await check();
            if (v !== undefined) return v;
        } catch (err) {
            last = (err as Error).message;
        }
        if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${last}` : ""}`);
        await sleep(everyMs);
    }
}

/** GET with a short timeout; returns status and body, or undefined when nothing answers. */
export async function httpGet(url: string): Promise<{ status: number; body: string } | undefined> {
    try {
        const res = await fetch(url, { signal: AbortSignal.timeout(5000), redirect: "manual" });
        return { status: res.status, body: await res.text() };
    } catch {
        return undefined;
    }
}

/** A long-running child process (a server) whose output is kept for failure messages. */
export class Server {
    output = "";
    exited: Promise<number>;
    private readonly child: ChildProcess;

    constructor(readonly name: string, cmd: string, args: string[], opts: { cwd?: string; env?: Record<string, string | undefined> } = {}) {
        this.child = spawn(cmd, args, { cwd: opts.cwd, env: mergedEnv(opts.env), stdio: ["ignore", "pipe", "pipe"] });
        this.child.stdout?.on("data", (d: Buffer) => (this.output += d.toString()));
        this.child.stderr?.on("data", (d: Buffer) => (this.output += d.toString()));
        this.exited = new Promise((resolve) => this.child.on("exit", (code, signal) => resolve(code ?? (signal ? 128 : 1))));
    }

    get running(): boolean {
        return this.child.exitCode === null && this.child.signalCode === null;
    }

    /** SIGTERM, then SIGKILL after 5 s; resolves when the process is gone. */
    async stop(): Promise<void> {
        if (!this.running) return;
        this.child.kill("SIGTERM");
        const timer = setTimeout(() => this.child.kill("SIGKILL"), 5000);
        await this.exited;
        clearTimeout(timer);
    }

    tail(lines = 20): string {
        return this.output.split("\n").slice(-lines).join("\n");
    }
}

/** What a test file created; `run()` removes all of it (in reverse order), ignoring what is already gone. */
export class Cleanup {
    private readonly steps: Array<{ what: string; fn: () => Promise<unknown> }> = [];

    add(what: string, fn: () => Promise<unknown>): void {
        this.steps.push({ what, fn });
    }

    container(name: string): void {
        this.add(`container ${name}`, () => docker(["rm", "-f", "-v", name]));
    }

    network(name: string): void {
        this.add(`network ${name}`, () => docker(["network", "rm", name]));
    }

    volume(name: string): void {
        this.add(`volume ${name}`, () => docker(["volume", "rm", "-f", name]));
    }

    /** A tag made for this run only; the image stays under its cache tag. */
    imageTag(ref: string): void {
        this.add(`tag ${ref}`, () => docker(["image", "rm", "--no-prune", ref]));
    }

    dir(p: string): void {
        this.add(`dir ${p}`, () => fs.promises.rm(p, { recursive: true, force: true }));
    }

    server(s: Server): void {
        this.add(`process ${s.name}`, () => s.stop());
    }

    async run(): Promise<void> {
        const problems: string[] = [];
        while (this.steps.length > 0) {
            const step = this.steps.pop();
            if (!step) break;
            try {
                await step.fn();
            } catch (err) {
                problems.push(`${step.what}: ${(err as Error).message}`);
            }
        }
        if (problems.length > 0) console.warn(`cleanup problems:\n  ${problems.join("\n  ")}`);
    }
}
