/**
 * `npm run bench:drift [-- --runs 5]` (as root, with Docker and the local base images of
 * test/real/support/base-images.sh): what the two drift checks cost where they run.
 * - the live check (lib/drift/check.ts) through `docker exec` into a PostgreSQL 15 container, as
 *   the Migration step runs it: on a database the sample's migrations built, with nothing pending,
 *   and with one migration pending (its replay on a copy of the live schema included);
 * - the model check as `pulumi preview`/`up` runs it (lib/drift/programCheck.ts): the first time
 *   (a throwaway PostgreSQL and the api image's Prisma) and once its clean result is remembered.
 * Each figure is the median of the runs, in ms, with min and max.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { checkLive, DriftSession } from "../lib/drift/check";
import { dockerDriftTarget } from "../lib/drift/dockerTarget";
import { readMigrations } from "../lib/drift/files";
import { guardModel } from "../lib/drift/programCheck";
import { dockerOk, runId, waitFor, docker } from "../test/real/support/run";
import { API_DIR, BASE, CACHE_REPO, MIGRATIONS_DIR, buildImage, requireBaseImages } from "../test/real/support/sample";

function parseRuns(argv: string[]): number {
    if (argv.length === 0) return 5;
    if (argv.length === 2 && argv[0] === "--runs" && /^\d+$/.test(argv[1]) && Number(argv[1]) > 0) return Number(argv[1]);
    process.stderr.write("usage: npm run bench:drift [-- --runs N]\n");
    process.exit(2);
}

const stats = (xs: number[]): string => {
    const s = [...xs].sort((a, b) => a - b);
    return `${s[Math.floor((s.length - 1) / 2)]} (${s[0]}–${s[s.length - 1]})`;
};

async function timed(runs: number, fn: () => Promise<unknown>): Promise<number[]> {
    const out: number[] = [];
    for (let i = 0; i < runs; i++) {
        const t0 = Date.now();
        await fn();
        out.push(Date.now() - t0);
    }
    return out;
}

async function main(): Promise<void> {
    const runs = parseRuns(process.argv.slice(2));
    await requireBaseImages();
    const id = runId();
    const prefix = `cartie-bench-${id}`;
    const db = `${prefix}-db`;
    const cacheDir = fs.mkdtempSync(path.join(os.tmpdir(), "cartie-bench-drift-"));
    const apiTag = `${prefix}-api:bench`;
    try {
        await dockerOk(["run", "-d", "--name", db, "-e", "POSTGRES_USER=cartie", "-e", "POSTGRES_PASSWORD", "-e", "POSTGRES_DB=cartie", BASE.postgres], { env: { POSTGRES_PASSWORD: `bench-${id}-pw-0123456789` } });
        await waitFor("the db", async () => ((await docker(["exec", db, "pg_isready", "-q", "-h", "127.0.0.1", "-U", "cartie"])).code === 0 ? true : undefined), 60_000, 200);
        const migrations = readMigrations(MIGRATIONS_DIR);
        const psql = (database: string, sql: string): Promise<string> => dockerOk(["exec", "-i", db, "psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-U", "cartie", "-d", database], { input: sql });
        for (const m of migrations) await psql("cartie", m.sql);
        await psql("cartie", "CREATE DATABASE half;");
        await psql("half", migrations[0].sql);
        const names = migrations.map((m) => m.name);

        const clean = await timed(runs, () => checkLive(new DriftSession(dockerDriftTarget({ container: db, user: "cartie", database: "cartie" }), migrations), { applied: names }));
        const pending = await timed(runs, () => checkLive(new DriftSession(dockerDriftTarget({ container: db, user: "cartie", database: "half" }), migrations), { applied: [names[0]] }));

        const built = await buildImage(CACHE_REPO.api, API_DIR, { NODE_IMAGE: BASE.node }, false);
        await dockerOk(["tag", built.ref, apiTag]);
        process.env.CARTIE_MODEL_CHECK_CACHE_DIR = cacheDir;
        const cfg = { appRoot: "examples/cartie", appRootAbs: path.dirname(path.dirname(API_DIR)), namePrefix: prefix, postgresImage: BASE.postgres };
        const quiet = { projectDir: cacheDir, info: () => undefined, warn: (m: string) => process.stderr.write(`${m}\n`) };
        const first = await timed(runs, () => {
            fs.rmSync(cacheDir, { recursive: true, force: true });
            return Promise.resolve(guardModel(cfg, quiet));
        });
        const remembered = await timed(runs, () => Promise.resolve(guardModel(cfg, quiet)));

        console.log(`drift checks, ${runs} run(s) each, median (min–max) in ms, on ${os.cpus().length} CPU(s):`);
        console.log(`| check | where | ms |\n| --- | --- | ---: |`);
        console.log(`| live, nothing pending (2 migrations) | the Migration step, docker exec | ${stats(clean)} |`);
        console.log(`| live, 1 migration pending (replayed on a copy of the live schema) | the Migration step, docker exec | ${stats(pending)} |`);
        console.log(`| model, first time (throwaway PostgreSQL + the api image's Prisma) | pulumi preview / up | ${stats(first)} |`);
        console.log(`| model, clean result remembered | pulumi preview / up | ${stats(remembered)} |`);
    } finally {
        await docker(["rm", "-f", "-v", db]);
        await docker(["image", "rm", "--no-prune", apiTag]);
        fs.rmSync(cacheDir, { recursive: true, force: true });
    }
}

void main().catch((err: Error) => {
    process.stderr.write(`${err.message}\n`);
    process.exit(1);
});
