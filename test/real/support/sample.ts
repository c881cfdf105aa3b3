/**
 * The sample Cartie monorepo (examples/cartie) built for real tests: on the host (its own
 * `npm ci` + build, in a cached copy under .real-cache, never in the repo's tree) and as Docker
 * images tagged by the program's own content tag (`contextDigest` + `contentTag`).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { contentTag, contextDigest } from "../../../lib/build/context";
import { CACHE_DIR, REPO, docker, dockerOk, execOk } from "./run";

export const SAMPLE = path.join(REPO, "examples/cartie");
export const API_DIR = path.join(SAMPLE, "apps/api");
export const WEB_DIR = path.join(SAMPLE, "apps/web");
export const MIGRATIONS_DIR = path.join(API_DIR, "prisma/migrations");
/** Base images made by test/real/support/base-images.sh (no registry here). */
export const BASE = { node: "local/node:18", caddy: "local/caddy:2.6", postgres: "local/postgres:15", busybox: "local/busybox:1" } as const;

/** The migration folders of the sample, sorted (what scripts/migrate.ts reads). */
export function sampleMigrations(dir: string = MIGRATIONS_DIR): string[] {
    return fs
        .readdirSync(dir, { withFileTypes: true })
        .filter((d) => d.isDirectory() && fs.existsSync(path.join(dir, d.name, "migration.sql")))
        .map((d) => d.name)
        .sort();
}

/** Copies an app folder without host build output, as a fresh checkout has it. */
export function copyApp(src: string, dest: string): void {
    fs.cpSync(src, dest, { recursive: true, filter: (p) => !["node_modules", "dist"].includes(path.basename(p)) || path.dirname(p) !== src });
}

/** Finishes a cache directory atomically, so an interrupted build is never taken for a done one. */
async function cached(dir: string, build: (tmp: string) => Promise<void>): Promise<string> {
    if (fs.existsSync(path.join(dir, ".built"))) return dir;
    const tmp = `${dir}.tmp-${process.pid}`;
    fs.rmSync(tmp, { recursive: true, force: true });
    try {
        await build(tmp);
        fs.writeFileSync(path.join(tmp, ".built"), new Date().toISOString());
        fs.rmSync(dir, { recursive: true, force: true });
        fs.renameSync(tmp, dir);
    } finally {
        fs.rmSync(tmp, { recursive: true, force: true });
    }
    return dir;
}

const memo = new Map<string, Promise<string>>();

/**
 * The sample api built on the host: `npm ci --ignore-scripts` (no native engines), `prisma
 * generate`, `tsc`. Returns the folder (node_modules, dist, prisma.config.ts, prisma/).
 */
export function hostApi(): Promise<string> {
    const key = "api";
    if (!memo.has(key)) {
        memo.set(
            key,
            (async () => {
                const tag = contentTag((await contextDigest(API_DIR)).digest);
                return cached(path.join(CACHE_DIR, `host-api-${tag}`), async (tmp) => {
                    copyApp(API_DIR, tmp);
                    await execOk("npm", ["ci", "--ignore-scripts", "--no-audit", "--no-fund"], { cwd: tmp });
                    // generate never connects; it only needs DATABASE_URL set (see the api's Dockerfile).
                    await execOk("npx", ["--no-install", "prisma", "generate"], { cwd: tmp, env: { DATABASE_URL: "postgresql://build:build@localhost:5432/build", CHECKPOINT_DISABLE: "1" } });
                    await execOk("npm", ["run", "build"], { cwd: tmp });
                });
            })(),
        );
    }
    return memo.get(key) as Promise<string>;
}

/** The sample web SPA built on the host with `VITE_API_BASE_URL`; returns its `dist` folder. */
export function hostWeb(viteApiBaseUrl: string): Promise<string> {
    const key = `web ${viteApiBaseUrl}`;
    if (!memo.has(key)) {
        memo.set(
            key,
            (async () => {
                const tag = contentTag((await contextDigest(WEB_DIR, { VITE_API_BASE_URL: viteApiBaseUrl })).digest);
                const dir = await cached(path.join(CACHE_DIR, `host-web-${tag}`), async (tmp) => {
                    copyApp(WEB_DIR, tmp);
                    await execOk("npm", ["ci", "--no-audit", "--no-fund"], { cwd: tmp });
                    await execOk("npm", ["run", "build"], { cwd: tmp, env: { VITE_API_BASE_URL: viteApiBaseUrl } });
                });
                return path.join(dir, "dist");
            })(),
        );
    }
    return memo.get(key) as Promise<string>;
}

/**
 * The db image the program's real stacks run: local/postgres:15 when its entrypoint reads
 * POSTGRES_PASSWORD_FILE as the official image does (base-images.sh since issue 14), else an
 * image derived from it (cached as `cartie-real-cache/postgres-file:15`) whose entrypoint does
 * the same first: a local/postgres:15 built before stays usable without rebuilding base images.
 */
export const POSTGRES_FILE_IMAGE = "cartie-real-cache/postgres-file:15";
let postgresImage: Promise<string> | undefined;
export function platformPostgresImage(): Promise<string> {
    postgresImage ??= (async () => {
        const reads = await docker(["run", "--rm", "--entrypoint", "grep", BASE.postgres, "-q", "POSTGRES_PASSWORD_FILE", "/usr/local/bin/docker-entrypoint.sh"]);
        if (reads.code === 0) return BASE.postgres;
        fs.mkdirSync(CACHE_DIR, { recursive: true });
        const dir = fs.mkdtempSync(path.join(CACHE_DIR, "postgres-file-"));
        try {
            fs.writeFileSync(
                path.join(dir, "file-env.sh"),
                [
                    "#!/bin/bash",
                    "set -euo pipefail",
                    "# The official image's file_env, read as postgres as its second pass reads it.",
                    'if [ -n "${POSTGRES_PASSWORD_FILE:-}" ] && [ -z "${POSTGRES_PASSWORD:-}" ]; then',
                    '  if [ "$(id -u)" = 0 ]; then POSTGRES_PASSWORD="$(gosu postgres cat "$POSTGRES_PASSWORD_FILE")"; else POSTGRES_PASSWORD="$(< "$POSTGRES_PASSWORD_FILE")"; fi',
                    "  export POSTGRES_PASSWORD",
                    "fi",
                    'exec /usr/local/bin/docker-entrypoint.sh "$@"',
                    "",
                ].join("\n"),
                { mode: 0o755 },
            );
            fs.writeFileSync(path.join(dir, "Dockerfile"), `FROM ${BASE.postgres}\nCOPY file-env.sh /usr/local/bin/file-env.sh\nENTRYPOINT ["/usr/local/bin/file-env.sh"]\nCMD ["postgres"]\n`);
            await dockerOk(["build", "-q", "-t", POSTGRES_FILE_IMAGE, dir]);
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
        return POSTGRES_FILE_IMAGE;
    })();
    return postgresImage;
}

export async function imageExists(ref: string): Promise<boolean> {
    return (await docker(["image", "inspect", ref])).code === 0;
}

export async function requireBaseImages(): Promise<void> {
    const missing: string[] = [];
    for (const ref of Object.values(BASE)) if (!(await imageExists(ref))) missing.push(ref);
    if (missing.length > 0) throw new Error(`base images missing: ${missing.join(", ")}; run \`bash test/real/support/base-images.sh\` (as root) first`);
}

/** Cache repository of sample images; the tag is the program's content tag of the context + build args. */
export const CACHE_REPO = { api: "cartie-real-cache/api", web: "cartie-real-cache/web" } as const;

export interface BuiltImage {
    ref: string;
    tag: string;
    /** false when the cached image was reused. */
    built: boolean;
    output: string;
}

/**
 * `docker build` (classic builder) of `contextDir` with `buildArgs`, tagged `<repo>:<content tag>`.
 * With `always` false an existing tag is reused: same digest, same content.
 */
export async function buildImage(repo: string, contextDir: string, buildArgs: Record<string, string>, always: boolean): Promise<BuiltImage> {
    const tag = contentTag((await contextDigest(contextDir, buildArgs)).digest);
    const ref = `${repo}:${tag}`;
    if (!always && (await imageExists(ref))) return { ref, tag, built: false, output: "" };
    const args = ["build", "--rm", "--force-rm", "-t", ref];
    for (const k of Object.keys(buildArgs).sort()) args.push("--build-arg", `${k}=${buildArgs[k]}`);
    const output = await dockerOk([...args, contextDir], { timeoutMs: 900_000 });
    return { ref, tag, built: true, output };
}
