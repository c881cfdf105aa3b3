/**
 * A place to run the api's own Prisma CLI against the working tree's `prisma/` folder without
 * touching the platform: a throwaway PostgreSQL container (the stack's db image, no network at
 * all) and, in its network namespace (`--network container:<it>`), throwaway containers of an api
 * image of the stack, which has the Prisma CLI, its Postgres adapter and prisma.config.ts. The
 * working tree's `prisma/` (and prisma.config.ts) are mounted read-only over the image's.
 *
 * Synchronous on purpose: the Pulumi program is evaluated synchronously (components/program.ts),
 * and that is where the model check must run to fail `pulumi preview`/`up` before any build.
 * The password of the throwaway server travels in the docker CLI's environment (`-e NAME` without
 * a value), never in argv; the server is removed in `close()`, whatever happened.
 */
import { spawnSync } from "node:child_process";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { checkModelSync, PrismaRun } from "./model";
import type { PrismaTool } from "./proposeRun";

export interface SandboxOptions {
    /** Name prefix of the throwaway containers: `<prefix>-drift-<random>`. */
    prefix: string;
    /** An image with the api's Prisma CLI (an api or migrator image of the stack). */
    prismaImage: string;
    /** The db image (pinned; PostgreSQL like the live one). */
    postgresImage: string;
    /** The api folder on the host: its `prisma/` and `prisma.config.ts` are mounted. */
    apiDir: string;
    /** Seconds to wait for the throwaway server. */
    readyTimeout?: number;
}

export interface DockerResult {
    code: number;
    stdout: string;
    stderr: string;
}

export function dockerSync(args: string[], opts: { input?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): DockerResult {
    const r = spawnSync("docker", args, { input: opts.input ?? "", env: opts.env ?? process.env, encoding: "utf8", timeout: opts.timeoutMs ?? 180_000, maxBuffer: 64 * 1024 * 1024 });
    if (r.error) {
        const err = r.error as NodeJS.ErrnoException;
        return { code: 127, stdout: "", stderr: err.code === "ENOENT" ? "docker not found on PATH" : err.message };
    }
    return { code: r.status ?? 1, stdout: r.stdout ?? "", stderr: r.stderr ?? "" };
}

function sleepSync(ms: number): void {
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** The newest local image of these repositories (`cartie-dev-api-migrator`, `cartie-dev-api`), or undefined. */
export function newestImage(repositories: string[]): { ref: string; id: string } | undefined {
    const r = dockerSync(["image", "ls", "--no-trunc", "--format", "{{.CreatedAt}}|{{.Repository}}:{{.Tag}}|{{.ID}}", ...repositories.flatMap((repo) => ["--filter", `reference=${repo}`])]);
    if (r.code !== 0) return undefined;
    const rows = r.stdout
        .split(/\r?\n/)
        .filter((l) => l.includes("|") && !l.includes("<none>"))
        .map((l) => l.split("|"))
        .sort((a, b) => b[0].localeCompare(a[0]));
    return rows[0] ? { ref: rows[0][1], id: rows[0][2] } : undefined;
}

export function imageExists(ref: string): boolean {
    return dockerSync(["image", "inspect", "--format", "{{.Id}}", ref]).code === 0;
}

export class PrismaSandbox {
    private constructor(
        private readonly o: SandboxOptions,
        readonly server: string,
        private readonly password: string,
        private readonly workdir: string,
        private readonly nodeOptions: string[],
    ) {}

    /** Starts the throwaway server; throws with the reason (the caller reports the check as not run). */
    static open(o: SandboxOptions): PrismaSandbox {
        const inspect = dockerSync(["image", "inspect", "--format", "{{.Config.WorkingDir}}", o.prismaImage]);
        if (inspect.code !== 0) throw new Error(`image ${o.prismaImage} is not on this host`);
        if (!imageExists(o.postgresImage)) throw new Error(`image ${o.postgresImage} is not on this host`);
        const server = `${o.prefix}-drift-${crypto.randomBytes(3).toString("hex")}`;
        const password = crypto.randomBytes(18).toString("hex");
        const run = dockerSync(["run", "-d", "--name", server, "--network", "none", "-e", "POSTGRES_PASSWORD", "--label", "io.cartie.platform.purpose=drift-sandbox", o.postgresImage], {
            env: { ...process.env, POSTGRES_PASSWORD: password },
        });
        if (run.code !== 0) throw new Error(`could not start a throwaway ${o.postgresImage}: ${run.stderr.trim()}`);
        // @prisma/adapter-pg 6.19.3 names the shadow database with `globalThis.crypto.randomUUID()`
        // (dist/index.js, connectToShadowDb), which Node 18 only defines with this flag; without it
        // `migrate diff` fails with "Failed to connect to the shadow database" (seen on local/node:18).
        const node = dockerSync(["run", "--rm", "--network", "none", o.prismaImage, "node", "--version"]);
        const major = Number(/^v(\d+)/.exec(node.stdout.trim())?.[1] ?? "0");
        const nodeOptions = major > 0 && major < 19 ? ["-e", "NODE_OPTIONS=--experimental-global-webcrypto"] : [];
        const box = new PrismaSandbox(o, server, password, inspect.stdout.trim() || "/app", nodeOptions);
        try {
            box.waitReady((o.readyTimeout ?? 60) * 1000);
        } catch (err) {
            box.close();
            throw err;
        }
        return box;
    }

    private waitReady(timeoutMs: number): void {
        const until = Date.now() + timeoutMs;
        // Over TCP: the image's first-start init server listens on no TCP port, so this cannot answer before the real one.
        for (;;) {
            if (dockerSync(["exec", this.server, "pg_isready", "-q", "-h", "127.0.0.1", "-U", "postgres"]).code === 0) return;
            if (Date.now() > until) throw new Error(`the throwaway PostgreSQL ${this.server} did not get ready in ${Math.round(timeoutMs / 1000)} s`);
            sleepSync(200);
        }
    }

    /** psql inside the throwaway server, as its superuser. */
    psql(database: string, sql: string): DockerResult {
        return dockerSync(["exec", "-i", this.server, "psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-At", "-U", "postgres", "-d", database], { input: sql });
    }

    /**
     * `prisma <args>` in the api image, the working tree's prisma/ (or `prismaDir`) mounted over
     * the image's, DATABASE_URL pointing at the throwaway server's `database`.
     */
    prisma(args: string[], opts: { database?: string; prismaDir?: string } = {}): PrismaRun {
        const prismaDir = path.resolve(opts.prismaDir ?? path.join(this.o.apiDir, "prisma"));
        const config = path.join(this.o.apiDir, "prisma.config.ts");
        const url = `postgresql://postgres:${this.password}@127.0.0.1:5432/${opts.database ?? "postgres"}?schema=public`;
        const mounts = ["-v", `${prismaDir}:${this.workdir}/prisma:ro`, ...(fs.existsSync(config) ? ["-v", `${path.resolve(config)}:${this.workdir}/prisma.config.ts:ro`] : [])];
        return dockerSync(
            ["run", "--rm", "--network", `container:${this.server}`, "-e", "DATABASE_URL", "-e", "CHECKPOINT_DISABLE=1", "-e", "PRISMA_HIDE_UPDATE_MESSAGE=1", ...this.nodeOptions, ...mounts, this.o.prismaImage, "npx", "--no-install", "prisma", ...args],
            { env: { ...process.env, DATABASE_URL: url }, timeoutMs: 180_000 },
        );
    }

    close(): void {
        dockerSync(["rm", "-f", "-v", this.server]);
    }
}

/** The proposal's Prisma (lib/drift/proposeRun.ts) in a sandbox: introspection and the model check. */
export function sandboxPrismaTool(box: PrismaSandbox, displayApiDir: string): PrismaTool {
    return {
        pull(sqls, schemaText) {
            const db = `pulled_${crypto.randomBytes(4).toString("hex")}`;
            const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "cartie-drift-pull-"));
            try {
                const created = box.psql("postgres", `CREATE DATABASE ${db};`);
                if (created.code !== 0) return Promise.resolve({ code: created.code, stdout: "", stderr: created.stderr });
                for (const sql of sqls) {
                    const r = box.psql(db, sql);
                    if (r.code !== 0) return Promise.resolve({ code: r.code, stdout: "", stderr: `loading the migrations for introspection failed: ${r.stderr}` });
                }
                const dir = path.join(tmp, "prisma");
                fs.mkdirSync(dir);
                fs.writeFileSync(path.join(dir, "schema.prisma"), schemaText);
                // The api image runs Prisma as an unprivileged user.
                fs.chmodSync(tmp, 0o755);
                fs.chmodSync(dir, 0o755);
                fs.chmodSync(path.join(dir, "schema.prisma"), 0o644);
                return Promise.resolve(box.prisma(["db", "pull", "--print"], { database: db, prismaDir: dir }));
            } finally {
                box.psql("postgres", `DROP DATABASE IF EXISTS ${db} WITH (FORCE);`);
                fs.rmSync(tmp, { recursive: true, force: true });
            }
        },
        modelCheck(prismaDir, schemaText, migrations) {
            return Promise.resolve(checkModelSync((args) => box.prisma(args, { prismaDir }), schemaText, migrations, displayApiDir));
        },
    };
}
