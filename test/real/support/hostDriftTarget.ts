/**
 * A real `DriftTarget` on the host: psql and pg_dump (Debian's PostgreSQL 15) against a database
 * of a throwaway host cluster (hostPostgres.ts). The host twin of lib/drift/dockerTarget.ts.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { DriftTarget } from "../../../lib/drift/check";
import { checkModel, PrismaRun } from "../../../lib/drift/model";
import { PrismaTool } from "../../../lib/drift/proposeRun";
import { HISTORY_TABLE } from "../../../lib/migration/plan";
import { HostPostgres } from "./hostPostgres";
import { exec, execOk, runId } from "./run";

export function hostDriftTarget(pg: HostPostgres, database: string): DriftTarget {
    return {
        database,
        psql: (db, sql) => pg.psql(db, sql),
        dumpSchema: () =>
            execOk("pg_dump", ["--schema-only", "--no-owner", "--no-privileges", "--schema=public", `--exclude-table=public.${HISTORY_TABLE}`, "-h", "127.0.0.1", "-p", String(pg.port), "-U", "cartie", "-d", database]),
    };
}


/** The sample's own Prisma CLI on the host, in `dir` (an api folder or a variant), DATABASE_URL on `database`. */
export function hostPrisma(pg: HostPostgres, dir: string, database = "postgres"): (args: string[]) => Promise<PrismaRun> {
    return (args) => exec("npx", ["--no-install", "prisma", ...args], { cwd: dir, env: { DATABASE_URL: pg.url(database), CHECKPOINT_DISABLE: "1", PRISMA_HIDE_UPDATE_MESSAGE: "1" }, timeoutMs: 180_000 });
}

/** A variant of a built api folder whose prisma/ is `prismaDir` (a copy), node_modules shared by symlink. */
function variantWith(builtApiDir: string, fill: (prismaDir: string) => void): string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cartie-real-drift-variant-"));
    for (const entry of ["package.json", "prisma.config.ts"]) fs.copyFileSync(path.join(builtApiDir, entry), path.join(dir, entry));
    fs.symlinkSync(path.join(builtApiDir, "node_modules"), path.join(dir, "node_modules"));
    fs.mkdirSync(path.join(dir, "prisma"));
    fill(path.join(dir, "prisma"));
    return dir;
}

/** The proposal's Prisma (lib/drift/proposeRun.ts) on the host: introspection and the model check with the sample's Prisma. */
export function hostPrismaTool(pg: HostPostgres, builtApiDir: string, displayApiDir = "apps/api"): PrismaTool {
    return {
        async pull(sqls, schemaText) {
            const db = `pulled_${runId()}`;
            await pg.createDatabase(db);
            const dir = variantWith(builtApiDir, (p) => fs.writeFileSync(path.join(p, "schema.prisma"), schemaText));
            try {
                for (const sql of sqls) await pg.psql(db, sql);
                return await hostPrisma(pg, dir, db)(["db", "pull", "--print"]);
            } finally {
                fs.rmSync(dir, { recursive: true, force: true });
                await pg.psql("postgres", `DROP DATABASE IF EXISTS ${db} WITH (FORCE);`);
            }
        },
        async modelCheck(prismaDir, schemaText, migrations) {
            const dir = variantWith(builtApiDir, (p) => fs.cpSync(prismaDir, p, { recursive: true }));
            try {
                return await checkModel(hostPrisma(pg, dir), schemaText, migrations, displayApiDir);
            } finally {
                fs.rmSync(dir, { recursive: true, force: true });
            }
        },
    };
}
