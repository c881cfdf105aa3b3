/** The migrations folder as the drift check reads it: every `<name>/migration.sql`, in name order (Prisma's order). */
import * as fs from "node:fs";
import * as path from "node:path";
import { LocalMigration } from "./check";

export function readMigrations(migrationsDir: string): LocalMigration[] {
    return fs
        .readdirSync(migrationsDir, { withFileTypes: true })
        .filter((d) => d.isDirectory() && fs.existsSync(path.join(migrationsDir, d.name, "migration.sql")))
        .map((d) => d.name)
        .sort()
        .map((name) => ({ name, sql: fs.readFileSync(path.join(migrationsDir, name, "migration.sql"), "utf8") }));
}
