import http from "node:http";
import path from "node:path";
import { loadConfig, missingEnv, missingEnvMessage } from "./env";

const missing = missingEnv(process.env);
if (missing.length > 0) {
  process.stderr.write(missingEnvMessage(missing) + "\n");
  process.exit(1);
}

// Loaded only once the configuration is known to be complete.
/* eslint-disable @typescript-eslint/no-require-imports */
const { createPool, createPrisma, describeDb } = require("./db") as typeof import("./db");
const { checkHealth } = require("./health") as typeof import("./health");
const { seedSuperadmin } = require("./seed") as typeof import("./seed");
/* eslint-enable @typescript-eslint/no-require-imports */

const config = loadConfig(process.env, path.resolve(__dirname, "..", "prisma", "migrations"));
const pool = createPool(config.databaseUrl);
const prisma = createPrisma(config.databaseUrl);
let seeded: "pending" | "created" | "exists" = "pending";

function log(message: string): void {
  process.stdout.write(`${new Date().toISOString()} cartie-api: ${message}\n`);
}

function send(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json; charset=utf-8", "cache-control": "no-store" });
  res.end(text);
}

async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  const url = new URL(req.url ?? "/", "http://localhost");
  if (req.method === "GET" && url.pathname === "/api/health") {
    const health = await checkHealth(pool, config.migrationsDir);
    const body = { ...health, superadmin: seeded };
    return send(res, health.status === "ok" ? 200 : 503, body);
  }
  if (req.method === "GET" && url.pathname === "/api/users/count") {
    try {
      return send(res, 200, { count: await prisma.globalUser.count() });
    } catch (e) {
      return send(res, 503, { status: "error", reason: (e as Error).message.split("\n")[0] });
    }
  }
  return send(res, 404, { status: "error", reason: "not found" });
}

const server = http.createServer((req, res) => {
  handle(req, res).catch((e: unknown) => {
    log(`request failed: ${(e as Error).message}`);
    if (!res.headersSent) send(res, 500, { status: "error", reason: "internal error" });
  });
});

async function seedWithRetry(): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      seeded = await seedSuperadmin(prisma, config.seedSuperadminEmail, config.seedSuperadminPassword);
      log(`superadmin ${seeded === "created" ? "created" : "already present, left unchanged"}`);
      return;
    } catch (e) {
      // The api never migrates; the platform runs `prisma migrate deploy` as its own step.
      const reason = (e as Error).message.split("\n").filter(Boolean).pop() ?? "unknown error";
      log(`superadmin seed failed (attempt ${attempt}), retrying in 5 s: ${reason}`);
      await new Promise((r) => setTimeout(r, 5_000).unref());
    }
  }
}

function shutdown(signal: string): void {
  log(`${signal} received, shutting down`);
  server.close();
  Promise.allSettled([prisma.$disconnect(), pool.end()]).finally(() => process.exit(0));
  setTimeout(() => process.exit(0), 5_000).unref();
}
process.on("SIGTERM", () => shutdown("SIGTERM"));
process.on("SIGINT", () => shutdown("SIGINT"));

server.listen(config.port, () => {
  log(`listening on :${config.port} (database ${describeDb(config.databaseUrl)})`);
  void seedWithRetry();
});
