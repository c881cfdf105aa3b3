import { PrismaClient } from "@prisma/client";
import { PrismaPg } from "@prisma/adapter-pg";
import pg from "pg";

/** Separate connection fields parsed from DATABASE_URL (never logged). */
export function poolConfig(databaseUrl: string): pg.PoolConfig {
  const url = new URL(databaseUrl);
  return {
    host: url.hostname,
    port: url.port ? Number(url.port) : 5432,
    user: decodeURIComponent(url.username),
    password: decodeURIComponent(url.password),
    database: decodeURIComponent(url.pathname.replace(/^\//, "")) || undefined,
    connectionTimeoutMillis: 3_000,
    // Never close an idle connection: when the database password is rotated, the role stops
    // accepting the old password for NEW logins while sessions already open stay authenticated,
    // so an api still on the old password keeps serving on the connections it holds until the
    // release has switched to the api with the new one (README, "Rotating secrets").
    idleTimeoutMillis: 0,
    max: 5,
  };
}

/** Where the DB is, for logs: host, port and database only. */
export function describeDb(databaseUrl: string): string {
  try {
    const url = new URL(databaseUrl);
    return `${url.hostname}:${url.port || 5432}/${url.pathname.replace(/^\//, "")}`;
  } catch {
    return "(unparseable DATABASE_URL)";
  }
}

export function createPrisma(databaseUrl: string): PrismaClient {
  const schema = new URL(databaseUrl).searchParams.get("schema") ?? undefined;
  const adapter = new PrismaPg(poolConfig(databaseUrl), schema ? { schema } : undefined);
  return new PrismaClient({ adapter });
}

export function createPool(databaseUrl: string): pg.Pool {
  const config = poolConfig(databaseUrl);
  const pool = new pg.Pool(config);
  // An idle client losing its connection must not crash the process.
  pool.on("error", () => undefined);
  // Open every connection now, while the password is surely current: a pool that grows later, in
  // the window of a password rotation, would need a new login the database already refuses. A db
  // that is not up yet just leaves the pool to grow on demand, as it otherwise would.
  void Promise.allSettled(Array.from({ length: config.max ?? 1 }, () => pool.connect())).then((opened) => {
    for (const o of opened) if (o.status === "fulfilled") o.value.release();
  });
  return pool;
}
