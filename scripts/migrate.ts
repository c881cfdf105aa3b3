/**
 * Run by the Migration command resource (`pulumi up`), never by hand on a guess: reads the live
 * database, plans forward-only steps, checks the live schema against the migrations (lib/drift:
 * it stops here when the live schema differs in a way the pending migrations do not fix) and,
 * when the steps change anything, takes and verifies a backup first (lib/backup), then runs them
 * with the api image's Prisma CLI and checks the live schema once more.
 * Inputs come from the environment the resource sets; the password is read from the db-secrets
 * volume into memory (it is not an input, so rotating it does not re-run the migration); every
 * line printed is masked.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { dockerMigrationTarget } from "../lib/migration/dockerTarget";
import { MigrationError, runMigrations } from "../lib/migration/run";
import { ALIASES, DB_PORT, databaseUrl as buildDatabaseUrl, maskSecrets } from "../lib/env";
import { readPasswordFile } from "../lib/rotation/dockerHost";
import { BACKUP_ENV, BackupSettings, backupSettingsFromEnv } from "../lib/backup/settings";
import { backupBeforeMigration } from "../lib/backup/store";
import { LABELS } from "../lib/docker/labels";
import { RUN_LABEL, RUN_VARIABLE } from "../lib/restore/leftovers";
import { preMigrationBackup } from "../lib/backup/take";
import { driftHooks } from "../lib/drift/migrationStep";
import { dockerDriftTarget } from "../lib/drift/dockerTarget";
import { readMigrations } from "../lib/drift/files";
import { parsePrismaSchema } from "../lib/drift/prismaSchema";
import { requireEnv } from "./env";

const need = (name: string): string => requireEnv(name, "cartie:platform:Migration");

async function main(): Promise<void> {
    // psql in the db container reads as the role and database the api uses (an adopted database keeps its own).
    const dbUser = need("CARTIE_DB_USER");
    const dbName = need("CARTIE_DB_NAME");
    let password: string;
    try {
        password = await readPasswordFile({ secretsVolume: need("CARTIE_DB_PWFILE_VOLUME"), image: need("CARTIE_DB_IMAGE") });
    } catch (err) {
        console.error(`migration: ${(err as Error).message}`);
        process.exit(1);
    }
    const databaseUrl = buildDatabaseUrl(password, ALIASES.db, DB_PORT, { user: dbUser, name: dbName });
    const migrationsDir = need("CARTIE_MIGRATIONS_DIR");
    const local = fs
        .readdirSync(migrationsDir, { withFileTypes: true })
        .filter((d) => d.isDirectory() && fs.existsSync(path.join(migrationsDir, d.name, "migration.sql")))
        .map((d) => d.name);
    let settings: BackupSettings;
    try {
        settings = backupSettingsFromEnv(process.env);
    } catch (err) {
        console.error(`migration: ${(err as Error).message}`);
        process.exit(2);
    }
    const dbContainer = need("CARTIE_DB_CONTAINER");
    const project = need(BACKUP_ENV.project);
    const beforeChanges = preMigrationBackup(settings, { container: dbContainer, user: dbUser, database: dbName }, project);
    const backupBefore = (migration: string): { file: string; takenAt: string } | undefined =>
        backupBeforeMigration(path.resolve(settings.dir), project, migration, settings.dir);
    // The run that started this migration, on its container: an interrupted restore waits for it instead of starting another.
    const run = process.env[RUN_VARIABLE];
    const labels: Record<string, string> = { [LABELS.component]: "migration", ...(run ? { [RUN_LABEL]: run } : {}) };
    const target = dockerMigrationTarget({
        dbContainer,
        network: need("CARTIE_NETWORK"),
        image: need("CARTIE_MIGRATOR_IMAGE"),
        databaseUrl,
        dbUser,
        dbName,
        labels,
    });
    // The live-drift check (lib/drift): before anything changes, and after the Prisma commands ran.
    const schemaFile = path.join(migrationsDir, "..", "schema.prisma");
    const model = fs.existsSync(schemaFile) ? parsePrismaSchema(fs.readFileSync(schemaFile, "utf8")) : undefined;
    const drift = driftHooks(dockerDriftTarget({ container: dbContainer, user: dbUser, database: dbName }), readMigrations(migrationsDir), model);
    try {
        const { log } = await runMigrations(target, local, need("CARTIE_MIGRATION_BASELINE"), [password, databaseUrl], { beforeChanges, backupBefore, ...drift });
        for (const line of log) console.log(line);
    } catch (err) {
        const log = err instanceof MigrationError ? err.log : [];
        for (const line of log) console.error(line);
        console.error(maskSecrets((err as Error).message, [password, databaseUrl]));
        process.exit(1);
    }
}

void main();
