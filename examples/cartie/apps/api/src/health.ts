import fs from "node:fs";
import path from "node:path";
import type pg from "pg";

export type Health =
  | { status: "ok"; database: "reachable"; migrations: { applied: number; latest: string | null } }
  | { status: "error"; reason: string; pending?: string[] };

/** Migration folders shipped in this image, in Prisma's (lexicographic) order. */
export function localMigrations(migrationsDir: string): string[] {
  return fs
    .readdirSync(migrationsDir, { withFileTypes: true })
    .filter((d) => d.isDirectory() && fs.existsSync(path.join(migrationsDir, d.name, "migration.sql")))
    .map((d) => d.name)
    .sort();
}

export async function checkHealth(pool: pg.Pool, migrationsDir: string): Promise<Health> {
  let expected: string[];
  try {
    expected = localMigrations(migrationsDir);
  } catch (e) {
    return { status: "error", reason: `cannot read migrations folder: ${(e as Error).message}` };
  }

  let client: pg.PoolClient;
  try {
    client = await pool.connect();
  } catch (e) {
    return { status: "error", reason: `database unreachable: ${(e as Error).message}` };
  }
  try {
    let applied = new Set<string>();
    try {
      const res = await client.query<{ migration_name: string }>(
        `SELECT migration_name FROM "_prisma_migrations"
          WHERE finished_at IS NOT NULL AND rolled_back_at IS NULL`,
      );
      applied = new Set(res.rows.map((r) => r.migration_name));
    } catch (e) {
      // 42P01 undefined_table: no migration history at all.
      if ((e as { code?: string }).code !== "42P01") {
        return { status: "error", reason: `cannot read migration history: ${(e as Error).message}` };
      }
    }
    const pending = expected.filter((name) => !applied.has(name));
    if (pending.length > 0) {
      return { status: "error", reason: `pending migrations: ${pending.join(", ")}`, pending };
    }
    return {
      status: "ok",
      database: "reachable",
      migrations: { applied: expected.length, latest: expected[expected.length - 1] ?? null },
    };
  } finally {
    client.release();
  }
}
