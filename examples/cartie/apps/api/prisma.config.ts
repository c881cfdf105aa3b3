// Prisma CLI configuration (Prisma 6.19.3, fully offline).
//
// The native schema/query engines cannot be downloaded on our hosts, so the
// CLI runs its JavaScript migrate engine through the Postgres driver adapter:
// `experimental.adapter` + `engine: "js"` + `adapter()` below. A config file
// turns off Prisma's .env loading: DATABASE_URL must be in the environment.
//
// Works from the api image's WORKDIR (/app):
//   npx prisma migrate deploy
//   npx prisma migrate resolve --applied v41_baseline
//   npx prisma migrate status
import path from "node:path";
import { defineConfig } from "prisma/config";
import { PrismaPg } from "@prisma/adapter-pg";
import pg from "pg";

// Workaround for prisma/orm#27403: the JS migrate engine reads pg_catalog
// columns of type `"char"` (OID 18) and `name` (OID 19), which
// @prisma/adapter-pg 6.19.3 cannot decode ("Column type 'name' could not be
// deserialized"). Both are plain text on the wire, so relabel them as `text`
// (OID 25) when the row description arrives, before pg builds the result and
// before the adapter looks at the column types. Scoped to this pool's clients.
const PG_CHAR_OID = 18;
const PG_NAME_OID = 19;
const PG_TEXT_OID = 25;

interface RowDescription {
  fields: Array<{ dataTypeID: number }>;
}

class Issue27403Client extends pg.Client {
  _handleRowDescription(msg: RowDescription): void {
    for (const field of msg.fields) {
      if (field.dataTypeID === PG_CHAR_OID || field.dataTypeID === PG_NAME_OID) {
        field.dataTypeID = PG_TEXT_OID;
      }
    }
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    (pg.Client.prototype as any)._handleRowDescription.call(this, msg);
  }
}

// Separate host/port/user/password/database fields, not a connectionString:
// with a connectionString the shadow database (migrate diff/dev) would land on
// the real database, because pg lets the string win over `database`.
function poolConfigFromEnv(): pg.PoolConfig {
  const raw = process.env.DATABASE_URL;
  if (!raw) {
    throw new Error("DATABASE_URL is not set (prisma.config.ts disables .env loading; export it)");
  }
  const url = new URL(raw);
  if (url.protocol !== "postgresql:" && url.protocol !== "postgres:") {
    throw new Error(`DATABASE_URL must be a postgresql:// URL (got ${url.protocol})`);
  }
  return {
    host: url.hostname,
    port: url.port ? Number(url.port) : 5432,
    user: decodeURIComponent(url.username),
    password: decodeURIComponent(url.password),
    database: decodeURIComponent(url.pathname.replace(/^\//, "")) || undefined,
    // Let each CLI command exit promptly instead of lingering on idle clients.
    idleTimeoutMillis: 100,
    allowExitOnIdle: true,
    connectionTimeoutMillis: 10_000,
    Client: Issue27403Client,
  } as pg.PoolConfig;
}

export default defineConfig({
  experimental: { adapter: true },
  engine: "js",
  schema: path.join("prisma", "schema.prisma"),
  migrations: { path: path.join("prisma", "migrations") },
  async adapter() {
    const schema = new URL(process.env.DATABASE_URL ?? "postgresql://x/").searchParams.get("schema") ?? undefined;
    return new PrismaPg(poolConfigFromEnv(), schema ? { schema } : undefined);
  },
});
