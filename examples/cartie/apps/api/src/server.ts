import fs from "node:fs";
import http from "node:http";
import path from "node:path";
import { loadConfig, missingEnv, missingEnvMessage } from "./env";
import { manageLifecycle } from "./lifecycle";

const missing = missingEnv(process.env);
if (missing.length > 0) {
  process.stderr.write(missingEnvMessage(missing) + "\n");
  process.exit(1);
}

// Loaded only once the configuration is known to be complete.
/* eslint-disable @typescript-eslint/no-require-imports */
const { createPool, createPrisma, describeDb } = require("./db") as typeof import("./db");
const { checkHealth } = require("./health") as typeof import("./health");
const { seedSuperadmin, unknownUserHash, verifyPassword } = require("./seed") as typeof import("./seed");
const { MAX_LOGIN_BYTES, bearerToken, parseCredentials, signToken, verifyToken } = require("./auth") as typeof import("./auth");
/* eslint-enable @typescript-eslint/no-require-imports */

const config = loadConfig(process.env, path.resolve(__dirname, "..", "prisma", "migrations"));
const pool = createPool(config.databaseUrl);
const prisma = createPrisma(config.databaseUrl);
let seeded: "pending" | import("./seed").SeedResult = "pending";
// Signs with the current secret only; during a rotation the previous one still verifies what it signed.
const verificationSecrets = config.jwtSecretPrevious ? [config.jwtSecret, config.jwtSecretPrevious] : [config.jwtSecret];
const version = (JSON.parse(fs.readFileSync(path.resolve(__dirname, "..", "package.json"), "utf8")) as { version: string }).version;
/** Larger echo bodies are refused: the route exists for load tests, not uploads. */
const MAX_ECHO_BYTES = 1024 * 1024;
const MAX_STREAM_MS = 60_000;
const STREAM_LINES = 10;

function log(message: string): void {
  process.stdout.write(`${new Date().toISOString()} cartie-api: ${message}\n`);
}

function send(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json; charset=utf-8", "cache-control": "no-store" });
  res.end(text);
}

/**
 * Reads the body, keeping its text only when `keep` (the echo route only counts); "too large" as
 * soon as it passes `limit`.
 */
function readBody(req: http.IncomingMessage, limit: number, keep: boolean): Promise<{ bytes: number; text: string } | "too large"> {
  const declared = Number(req.headers["content-length"]);
  if (Number.isFinite(declared) && declared > limit) return Promise.resolve("too large");
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let bytes = 0;
    let ended = false;
    req.on("data", (chunk: Buffer) => {
      bytes += chunk.length;
      if (bytes > limit && !ended) {
        ended = true;
        resolve("too large");
      }
      if (keep && !ended) chunks.push(chunk);
    });
    req.on("end", () => {
      ended = true;
      resolve({ bytes, text: keep ? Buffer.concat(chunks).toString("utf8") : "" });
    });
    req.on("error", reject);
    req.on("close", () => {
      if (!ended) reject(new Error("client went away before the end of the body"));
    });
  });
}

async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  const url = new URL(req.url ?? "/", "http://localhost");
  if (req.method === "GET" && url.pathname === "/api/version") {
    return send(res, 200, { release: config.release, version });
  }
  if (req.method === "POST" && url.pathname === "/api/echo") {
    const body = await readBody(req, MAX_ECHO_BYTES, false);
    if (body === "too large") {
      // The rest of the body is never read, so this connection cannot carry another request.
      res.setHeader("connection", "close");
      return send(res, 413, { status: "error", reason: `body larger than ${MAX_ECHO_BYTES} bytes` });
    }
    return send(res, 200, { bytes: body.bytes, release: config.release });
  }
  if (req.method === "GET" && url.pathname === "/api/stream") {
    // A long response for load tests: ten lines spread over `ms` (at most a minute), so one answer spans a release's switch.
    const ms = Math.min(Math.max(Number(url.searchParams.get("ms")) || 0, 0), MAX_STREAM_MS);
    res.writeHead(200, { "content-type": "text/plain; charset=utf-8", "cache-control": "no-store" });
    for (let i = 1; i <= STREAM_LINES; i++) {
      res.write(`line ${i} of ${STREAM_LINES} from release ${config.release}\n`);
      if (i < STREAM_LINES) await new Promise((r) => setTimeout(r, ms / (STREAM_LINES - 1)));
    }
    res.end();
    return;
  }
  if (req.method === "GET" && url.pathname === "/api/health") {
    const health = await checkHealth(pool, config.migrationsDir);
    const body = { ...health, superadmin: seeded };
    return send(res, health.status === "ok" ? 200 : 503, body);
  }
  if (req.method === "POST" && url.pathname === "/api/auth/login") {
    const body = await readBody(req, MAX_LOGIN_BYTES, true);
    if (body === "too large") {
      res.setHeader("connection", "close");
      return send(res, 413, { status: "error", reason: `body larger than ${MAX_LOGIN_BYTES} bytes` });
    }
    const credentials = parseCredentials(body.text);
    if ("problem" in credentials) return send(res, 400, { status: "error", reason: credentials.problem });
    const user = await prisma.globalUser.findUnique({ where: { email: credentials.email }, select: { id: true, email: true, role: true, passwordHash: true } });
    // An unknown email costs the same scrypt as a wrong password, so timing does not tell which emails exist.
    const matches = await verifyPassword(credentials.password, user?.passwordHash ?? (await unknownUserHash()));
    if (!user || !matches) return send(res, 401, { status: "error", reason: "wrong email or password" });
    const token = await signToken({ id: user.id, email: user.email, role: user.role }, config.jwtSecret);
    return send(res, 200, { token, tokenType: "Bearer", user: { id: user.id, email: user.email, role: user.role } });
  }
  if (req.method === "GET" && url.pathname === "/api/auth/me") {
    const token = bearerToken(req.headers.authorization);
    const verified = token ? await verifyToken(token, verificationSecrets) : undefined;
    const user = verified ? await prisma.globalUser.findUnique({ where: { id: verified.userId }, select: { id: true, email: true, role: true } }) : null;
    if (!user) {
      res.setHeader("www-authenticate", 'Bearer realm="cartie"');
      return send(res, 401, { status: "error", reason: "missing, invalid or expired token" });
    }
    return send(res, 200, { user });
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
  res.setHeader("x-cartie-release", config.release);
  handle(req, res).catch((e: unknown) => {
    log(`request failed: ${(e as Error).message}`);
    if (!res.headersSent) send(res, 500, { status: "error", reason: "internal error" });
  });
});

async function seedWithRetry(): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      seeded = await seedSuperadmin(prisma, config.seedSuperadminEmail, config.seedSuperadminPassword);
      log(
        seeded === "created"
          ? "superadmin created"
          : seeded === "password updated"
            ? "superadmin password updated from SEED_SUPERADMIN_PASSWORD"
            : "superadmin already present, password matches SEED_SUPERADMIN_PASSWORD, left unchanged",
      );
      return;
    } catch (e) {
      // The api never migrates; the platform runs `prisma migrate deploy` as its own step.
      const reason = (e as Error).message.split("\n").filter(Boolean).pop() ?? "unknown error";
      log(`superadmin seed failed (attempt ${attempt}), retrying in 5 s: ${reason}`);
      await new Promise((r) => setTimeout(r, 5_000).unref());
    }
  }
}

// Longer than the proxy's upstream idle keep-alive (30 s): the proxy, not the api, ends an idle
// connection, so the proxy never reuses one the api has just closed.
server.keepAliveTimeout = 65_000;
server.headersTimeout = 66_000;

const lifecycle = manageLifecycle(server, {
  timeoutMs: config.shutdownTimeoutMs,
  log,
  closeResources: async () => {
    await Promise.allSettled([prisma.$disconnect(), pool.end()]);
  },
});
process.on("SIGTERM", () => lifecycle.shutdown("SIGTERM"));
process.on("SIGINT", () => lifecycle.shutdown("SIGINT"));

server.listen(config.port, () => {
  log(`listening on :${config.port} (database ${describeDb(config.databaseUrl)}); release ${config.release}, version ${version}`);
  log(`tokens signed with JWT_SECRET, verified with ${config.jwtSecretPrevious ? "JWT_SECRET and JWT_SECRET_PREVIOUS" : "JWT_SECRET only"}`);
  void seedWithRetry();
});
