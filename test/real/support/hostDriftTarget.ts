/**
 * A real `DriftTarget` on the host: psql and pg_dump (Debian's PostgreSQL 15) against a database
 * of a throwaway host cluster (hostPostgres.ts). The host twin of lib/drift/dockerTarget.ts.
 */
import { DriftTarget } from "../../../lib/drift/check";
import { HISTORY_TABLE } from "../../../lib/migration/plan";
import { HostPostgres } from "./hostPostgres";
import { execOk } from "./run";

export function hostDriftTarget(pg: HostPostgres, database: string): DriftTarget {
    return {
        database,
        psql: (db, sql) => pg.psql(db, sql),
        dumpSchema: () =>
            execOk("pg_dump", ["--schema-only", "--no-owner", "--no-privileges", "--schema=public", `--exclude-table=public.${HISTORY_TABLE}`, "-h", "127.0.0.1", "-p", String(pg.port), "-U", "cartie", "-d", database]),
    };
}

