/**
 * Run by the Migration command resource (`pulumi up`), never by hand on a guess: reads the live
 * database, plans forward-only steps and runs them with the api image's Prisma CLI.
 * Inputs come from the environment the resource sets; every line printed is masked.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { dockerMigrationTarget } from "../lib/dockerMigrationTarget";
import { MigrationError, runMigrations } from "../lib/migrationRun";
import { maskSecrets } from "../lib/env";
import { requireEnv } from "./env";

const need = (name: string): string => requireEnv(name, "cartie:platform:Migration");

async function main(): Promise<void> {
    const databaseUrl = need("DATABASE_URL");
    const migrationsDir = need("CARTIE_MIGRATIONS_DIR");
    const local = fs
        .readdirSync(migrationsDir, { withFileTypes: true })
        .filter((d) => d.isDirectory() && fs.existsSync(path.join(migrationsDir, d.name, "migration.sql")))
        .map((d) => d.name);
    const url = new URL(databaseUrl);
    const password = decodeURIComponent(url.password);
    const target = dockerMigrationTarget({
        dbContainer: need("CARTIE_DB_CONTAINER"),
        network: need("CARTIE_NETWORK"),
        image: need("CARTIE_MIGRATOR_IMAGE"),
        databaseUrl,
        // psql in the db container reads as the role and database the api uses (an adopted database keeps its own).
        dbUser: decodeURIComponent(url.username),
        dbName: decodeURIComponent(url.pathname.replace(/^\//, "")),
    });
    try {
        const { log } = await runMigrations(target, local, need("CARTIE_MIGRATION_BASELINE"), [password, databaseUrl]);
        for (const line of log) console.log(line);
    } catch (err) {
        const log = err instanceof MigrationError ? err.log : [];
        for (const line of log) console.error(line);
        console.error(maskSecrets((err as Error).message, [password, databaseUrl]));
        process.exit(1);
    }
}

void main();
