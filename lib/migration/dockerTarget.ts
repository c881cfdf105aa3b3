import { DB_NAME, DB_USER } from "../env";
import { docker } from "../docker/cli";
import { MigrationTarget } from "./run";

export interface DockerMigrationTargetOptions {
    /** Name of the running db container; psql runs inside it over the local socket. */
    dbContainer: string;
    /** Network the migrator container joins to reach the db by its alias. */
    network: string;
    /** Image holding the api's Prisma CLI, schema and migrations. */
    image: string;
    databaseUrl: string;
    dbUser?: string;
    dbName?: string;
    /** Labels of the migrator container (what finds it after an interrupted run: lib/restore/leftovers.ts). */
    labels?: Record<string, string>;
}

/** Runs psql in the db container and the Prisma CLI in a throwaway container of the api image. */
export function dockerMigrationTarget(o: DockerMigrationTargetOptions): MigrationTarget {
    return {
        async psql(sql) {
            const r = await docker(["exec", "-i", o.dbContainer, "psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-At", "-F", "|", "-U", o.dbUser ?? DB_USER, "-d", o.dbName ?? DB_NAME], { input: sql });
            if (r.code !== 0) throw new Error(`psql in ${o.dbContainer} failed (exit ${r.code}): ${r.stderr.trim()}`);
            return r.stdout;
        },
        async prisma(args) {
            const labels = Object.entries(o.labels ?? {}).flatMap(([k, v]) => ["--label", `${k}=${v}`]);
            // --sig-proxy=false: a signal to this client (an interrupted restore ending what its killed run
            // left) must never reach Prisma mid-migration; the container finishes on its own and is waited for.
            const r = await docker(["run", "--rm", "--sig-proxy=false", ...labels, "--network", o.network, "-e", "DATABASE_URL", o.image, "npx", "--no-install", "prisma", ...args], {
                env: { ...process.env, DATABASE_URL: o.databaseUrl },
            });
            return { code: r.code, output: `${r.stdout}${r.stderr}` };
        },
    };
}
