/**
 * A real `MigrationTarget` on the host: psql against a host PostgreSQL 15 database and the sample
 * api's own Prisma 6.19.3 CLI (`npx --no-install prisma …` in an api folder, DATABASE_URL set).
 * It is the host twin of lib/migration/dockerTarget.ts; nothing in it is simulated.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { MigrationTarget } from "../../../lib/migration/run";
import { HostPostgres } from "./hostPostgres";
import { exec } from "./run";

/** Prisma commands run by one target, in order, for assertions about what ran. */
export interface RecordingTarget extends MigrationTarget {
    prismaCalls: string[][];
}

export function hostMigrationTarget(pg: HostPostgres, database: string, apiDir: string): RecordingTarget {
    const prismaCalls: string[][] = [];
    return {
        prismaCalls,
        psql: (sql) => pg.psql(database, sql),
        async prisma(args) {
            prismaCalls.push(args);
            const r = await exec("npx", ["--no-install", "prisma", ...args], {
                cwd: apiDir,
                env: { DATABASE_URL: pg.url(database), CHECKPOINT_DISABLE: "1", PRISMA_HIDE_UPDATE_MESSAGE: "1" },
                timeoutMs: 180_000,
            });
            return { code: r.code, output: `${r.stdout}${r.stderr}` };
        },
    };
}

/**
 * A copy of a built api folder (config, schema, migrations) sharing its node_modules by symlink,
 * with extra migrations added: a migrations folder that differs without touching the sample.
 */
export function apiVariant(builtApiDir: string, extraMigrations: Record<string, string>): string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cartie-real-api-variant-"));
    for (const entry of ["package.json", "prisma.config.ts", "prisma"]) fs.cpSync(path.join(builtApiDir, entry), path.join(dir, entry), { recursive: true });
    fs.symlinkSync(path.join(builtApiDir, "node_modules"), path.join(dir, "node_modules"));
    for (const [name, sql] of Object.entries(extraMigrations)) {
        fs.mkdirSync(path.join(dir, "prisma/migrations", name));
        fs.writeFileSync(path.join(dir, "prisma/migrations", name, "migration.sql"), sql);
    }
    return dir;
}
