/**
 * The live-drift check's server on Docker: psql and pg_dump inside the running db container, over
 * its local socket (trusted inside the container, so no password is needed and none is in an
 * argument or a log line), as the role the api uses. Scratch databases live on the same server.
 */
import { docker } from "../docker/cli";
import { HISTORY_TABLE } from "../migration/plan";
import { DriftTarget } from "./check";

export interface DbContainer {
    container: string;
    user: string;
    database: string;
}

export function dockerDriftTarget(db: DbContainer): DriftTarget {
    return {
        database: db.database,
        async psql(database, sql) {
            const r = await docker(["exec", "-i", db.container, "psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-At", "-U", db.user, "-d", database], { input: sql, timeoutMs: 300_000 });
            if (r.code !== 0) throw new Error(r.stderr.trim() || `psql in ${db.container} failed (exit ${r.code})`);
            return r.stdout;
        },
        async dumpSchema() {
            const r = await docker(
                ["exec", db.container, "pg_dump", "--schema-only", "--no-owner", "--no-privileges", "--schema=public", `--exclude-table=public.${HISTORY_TABLE}`, "-U", db.user, "-d", db.database],
                { timeoutMs: 300_000 },
            );
            if (r.code !== 0) throw new Error(`pg_dump --schema-only in ${db.container} failed (exit ${r.code}): ${r.stderr.trim()}`);
            return r.stdout;
        },
    };
}
