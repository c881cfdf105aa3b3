/**
 * The sample api as the deploy tests need it, in its real image (Node 18 from local/node:18,
 * built with the classic builder and cached by the program's content tag): every answer names its
 * release, `POST /api/echo` takes a body of any pace, and `docker stop` drains: a request already
 * in flight is answered, idle keep-alive connections and new connections are not served, the
 * database pools close, and the process exits 0 well inside the grace period (or 1 at its own
 * hard limit). Also the LoadLoop those tests drive, against a local server.
 */
import { strict as assert } from "node:assert";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as http from "node:http";
import type { AddressInfo, Socket } from "node:net";
import * as path from "node:path";
import { LoadLoop } from "../support/load";
import { Cleanup, docker, dockerOk, freePort, runId, sleep, waitFor } from "../support/run";
import { API_DIR, BASE, CACHE_REPO, buildImage, requireBaseImages } from "../support/sample";

const RELEASE = "test-rel";
const LOG_LINE = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z) cartie-api: (.*)$/;

interface Answer {
    status: number;
    headers: http.IncomingHttpHeaders;
    body: string;
}

/** One GET through `agent`; also hands back the socket, to watch what the server does with it afterwards. */
function getVia(agent: http.Agent, url: string): Promise<Answer & { socket: Socket }> {
    return new Promise((resolve, reject) => {
        let socket: Socket | undefined;
        const req = http.get(url, { agent, timeout: 5000 }, (res) => {
            let body = "";
            res.setEncoding("utf8");
            res.on("data", (d: string) => (body += d));
            res.on("end", () => (socket ? resolve({ status: res.statusCode ?? 0, headers: res.headers, body, socket }) : reject(new Error("no socket"))));
        });
        req.on("socket", (s: Socket) => (socket = s));
        req.on("timeout", () => req.destroy(new Error("no answer within 5 s")));
        req.on("error", reject);
    });
}

/** A POST body that arrives in `chunks` pieces spread over about `spanMs`, like a slow client's upload. */
function trickle(chunks: number, chunkBytes: number, spanMs: number): ReadableStream<Uint8Array> {
    let sent = 0;
    return new ReadableStream<Uint8Array>({
        async pull(controller) {
            if (sent > 0) await sleep(spanMs / (chunks - 1));
            if (sent++ < chunks) controller.enqueue(new Uint8Array(chunkBytes).fill(0x73));
            else controller.close();
        },
    });
}

/** The api's own log lines, parsed: time and message. */
function apiLog(text: string): Array<{ at: number; message: string }> {
    return text.split("\n").flatMap((line) => {
        const m = LOG_LINE.exec(line);
        return m ? [{ at: Date.parse(m[1]), message: m[2] }] : [];
    });
}

describe("real: the sample api's release, echo and graceful shutdown, in its Node 18 image", function () {
    const cleanup = new Cleanup();
    const id = runId();
    const prefix = `cartie-life-${id}`;
    const network = `${prefix}-net`;
    const dbPassword = crypto.randomBytes(18).toString("hex");
    const packageVersion = (JSON.parse(fs.readFileSync(path.join(API_DIR, "package.json"), "utf8")) as { version: string }).version;
    let image: string;

    const logsOf = async (name: string): Promise<string> => {
        const r = await docker(["logs", name]);
        return `${r.stdout}${r.stderr}`;
    };

    /** The api on the test network with the platform's variables (values through the environment, never argv), published on 127.0.0.1. */
    const startApi = async (label: string, extra: Record<string, string> = {}): Promise<{ name: string; base: string }> => {
        const name = `${prefix}-${label}`;
        const port = await freePort();
        const vars: Record<string, string> = {
            DATABASE_URL: `postgresql://cartie:${dbPassword}@db:5432/cartie`,
            JWT_SECRET: crypto.randomBytes(24).toString("hex"),
            SEED_SUPERADMIN_PASSWORD: crypto.randomBytes(12).toString("hex"),
            SEED_SUPERADMIN_EMAIL: "admin@cartie.test",
            CARTIE_RELEASE: RELEASE,
            ...extra,
        };
        cleanup.container(name);
        await dockerOk(["run", "-d", "--name", name, "--network", network, "-p", `127.0.0.1:${port}:3000`, ...Object.keys(vars).flatMap((k) => ["-e", k]), image], { env: vars });
        const base = `http://127.0.0.1:${port}`;
        await waitFor(
            `${name} to answer /api/version`,
            async () => ((await fetch(`${base}/api/version`, { signal: AbortSignal.timeout(2000) })).status === 200 ? true : undefined),
            60_000,
            200,
        ).catch(async (e: Error) => {
            throw new Error(`${e.message}\nlogs:\n${await logsOf(name)}`);
        });
        return { name, base };
    };

    /** `docker stop -t 30` (the platform's grace period), timed. */
    const stop = async (name: string): Promise<{ code: number; ms: number; output: string }> => {
        const t0 = Date.now();
        const r = await docker(["stop", "-t", "30", name]);
        return { code: r.code, ms: Date.now() - t0, output: `${r.stdout}${r.stderr}` };
    };

    const exitCode = async (name: string): Promise<number> => Number((await dockerOk(["inspect", "-f", "{{.State.ExitCode}}", name])).trim());

    before(async function () {
        await requireBaseImages();
        // The program's build args for the api under the real stack (lib/build/buildArgs.ts with nodeImage = local/node:18), so the cache is shared.
        image = (await buildImage(CACHE_REPO.api, API_DIR, { NODE_IMAGE: BASE.node }, false)).ref;
        await dockerOk(["network", "create", network]);
        cleanup.network(network);
        const db = `${prefix}-db`;
        cleanup.container(db);
        await dockerOk(
            ["run", "-d", "--name", db, "--network", network, "--network-alias", "db", "-e", "POSTGRES_USER=cartie", "-e", "POSTGRES_DB=cartie", "-e", "POSTGRES_PASSWORD", BASE.postgres],
            { env: { POSTGRES_PASSWORD: dbPassword } },
        );
        await waitFor("postgres to accept connections", async () => ((await docker(["exec", db, "pg_isready", "-h", "127.0.0.1", "-U", "cartie", "-d", "cartie"])).code === 0 ? true : undefined), 60_000, 300);
    });

    after(async () => {
        await cleanup.run();
    });

    describe("a running api", function () {
        let api: { name: string; base: string };

        before(async function () {
            api = await startApi("api");
        });

        it("names its release in every answer and on /api/version, with the package version; the existing routes answer as before", async () => {
            const version = await fetch(`${api.base}/api/version`);
            assert.equal(version.status, 200);
            assert.equal(version.headers.get("x-cartie-release"), RELEASE);
            assert.deepEqual(await version.json(), { release: RELEASE, version: packageVersion });

            const missing = await fetch(`${api.base}/api/nope`);
            assert.equal(missing.status, 404);
            assert.equal(missing.headers.get("x-cartie-release"), RELEASE);

            // No migrations ran against this database: health says so, as it always has.
            const health = await fetch(`${api.base}/api/health`);
            assert.equal(health.status, 503);
            assert.equal(health.headers.get("x-cartie-release"), RELEASE);
            assert.match(((await health.json()) as { reason: string }).reason, /^pending migrations: v41_baseline/);

            assert.match(await logsOf(api.name), new RegExp(`cartie-api: listening on :3000 \\(database db:5432/cartie\\); release ${RELEASE}, version ${packageVersion.replace(/\./g, "\\.")}`));
        });

        it("POST /api/echo answers the byte count of any body (sized, streamed, empty) up to 1 MiB, and 413 beyond", async () => {
            const echo = async (body: RequestInit["body"], extra: RequestInit = {}): Promise<{ status: number; release: string | null; json: unknown }> => {
                const res = await fetch(`${api.base}/api/echo`, { method: "POST", body, ...extra });
                return { status: res.status, release: res.headers.get("x-cartie-release"), json: await res.json() };
            };
            assert.deepEqual(await echo(JSON.stringify({ a: "é" })), { status: 200, release: RELEASE, json: { bytes: 10, release: RELEASE } });
            assert.deepEqual(await echo(undefined), { status: 200, release: RELEASE, json: { bytes: 0, release: RELEASE } });
            // No Content-Length: the api must count what actually arrives.
            assert.deepEqual((await echo(trickle(4, 500, 150), { duplex: "half" })).json, { bytes: 2000, release: RELEASE });
            assert.deepEqual((await echo(new Uint8Array(1024 * 1024))).json, { bytes: 1024 * 1024, release: RELEASE });
            const tooLarge = await echo(new Uint8Array(1024 * 1024 + 1));
            assert.equal(tooLarge.status, 413);
            assert.deepEqual(tooLarge.json, { status: "error", reason: "body larger than 1048576 bytes" });
        });
    });

    it("docker stop with a slow POST in flight: the POST is answered 200, idle and new connections are not served, the process drains and exits 0 well inside the 30 s grace", async () => {
        const api = await startApi("drain");
        // A pooled database connection that pool.end() has to close on the way out.
        assert.equal((await fetch(`${api.base}/api/health`)).status, 503);

        // An idle keep-alive connection, as the proxy keeps them: the api must close it at the signal, not after 65 s.
        const keepAlive = new http.Agent({ keepAlive: true, maxSockets: 1 });
        const idle = await getVia(keepAlive, `${api.base}/api/version`);
        assert.equal(idle.status, 200);
        let idleClosedAt = 0;
        idle.socket.once("close", () => (idleClosedAt = Date.now()));

        // 10 × 1000 bytes over ~3 s: still arriving when the signal comes.
        const slowStart = Date.now();
        let slowEnd = 0;
        const slow = fetch(`${api.base}/api/echo`, { method: "POST", body: trickle(10, 1000, 3000), duplex: "half", headers: { "content-type": "application/octet-stream" } }).then(async (res) => {
            const answer = { status: res.status, connection: res.headers.get("connection"), release: res.headers.get("x-cartie-release"), json: await res.json() };
            slowEnd = Date.now();
            return answer;
        });
        await sleep(800);

        const signalled = Date.now();
        const stopping = stop(api.name);
        await waitFor("the SIGTERM log line", async () => (/SIGTERM received/.test(await logsOf(api.name)) ? true : undefined), 10_000, 50);

        // A new connection after the signal gets no answer (Docker's port proxy accepts, then finds nothing listening).
        const fresh = await getVia(new http.Agent({ keepAlive: false }), `${api.base}/api/version`).then(
            (a) => `answered ${a.status}`,
            (e: Error) => `failed: ${e.message}`,
        );
        assert.match(fresh, /^failed: /, `a connection opened after SIGTERM was served: ${fresh}`);

        const answer = await slow;
        assert.deepEqual(answer, { status: 200, connection: "close", release: RELEASE, json: { bytes: 10_000, release: RELEASE } });
        assert.ok(slowEnd - slowStart >= 2500, `the trickled POST took only ${slowEnd - slowStart} ms, so it did not span the signal`);

        const stopped = await stopping;
        assert.equal(stopped.code, 0, stopped.output);
        assert.ok(stopped.ms < 10_000, `docker stop took ${stopped.ms} ms; the api should exit once its one request is answered`);
        assert.equal(await exitCode(api.name), 0);
        assert.ok(idleClosedAt > 0 && idleClosedAt < slowEnd, `the idle keep-alive connection was ${idleClosedAt ? `closed ${idleClosedAt - signalled} ms after the signal, after the in-flight answer` : "never closed"}`);
        keepAlive.destroy();

        const lines = apiLog(await logsOf(api.name));
        const sigterm = lines.findIndex((l) => l.message === "SIGTERM received, draining 1 in-flight request(s)");
        const drained = lines.findIndex((l) => /^drained in \d+ ms, closing database connections$/.test(l.message));
        assert.ok(sigterm >= 0, `no SIGTERM line in:\n${lines.map((l) => l.message).join("\n")}`);
        assert.ok(drained > sigterm, `no drained line after the SIGTERM line in:\n${lines.map((l) => l.message).join("\n")}`);
        // Drained only once the trickled body (about 2 s more after the signal) had been answered.
        assert.ok(lines[drained].at - lines[sigterm].at >= 1500, `drained ${lines[drained].at - lines[sigterm].at} ms after the signal, before the in-flight POST could finish`);
        assert.ok(!lines.some((l) => /timed out|request failed/.test(l.message)), lines.map((l) => l.message).join("\n"));
    });

    it("docker stop with nothing in flight exits 0 at once", async () => {
        const api = await startApi("idle");
        const stopped = await stop(api.name);
        assert.equal(stopped.code, 0, stopped.output);
        assert.ok(stopped.ms < 3000, `docker stop took ${stopped.ms} ms`);
        assert.equal(await exitCode(api.name), 0);
        const messages = apiLog(await logsOf(api.name)).map((l) => l.message);
        assert.ok(messages.includes("SIGTERM received, draining 0 in-flight request(s)"), messages.join("\n"));
        assert.ok(messages.some((m) => /^drained in \d+ ms/.test(m)), messages.join("\n"));
    });

    it("a request that outlasts SHUTDOWN_TIMEOUT_MS: the api gives up at its own limit, says so and exits 1, long before Docker's SIGKILL", async () => {
        const api = await startApi("timeout", { SHUTDOWN_TIMEOUT_MS: "1500" });
        const slow = fetch(`${api.base}/api/echo`, { method: "POST", body: trickle(10, 100, 8000), duplex: "half" }).then(
            (r) => `answered ${r.status}`,
            () => "failed",
        );
        await sleep(500);
        const stopped = await stop(api.name);
        assert.equal(stopped.code, 0, stopped.output);
        assert.ok(stopped.ms >= 1400 && stopped.ms < 6000, `docker stop took ${stopped.ms} ms; expected about the 1.5 s limit`);
        assert.equal(await exitCode(api.name), 1);
        const messages = apiLog(await logsOf(api.name)).map((l) => l.message);
        assert.ok(messages.includes("shutdown timed out after 1500 ms with 1 request(s) still in flight, exiting 1"), messages.join("\n"));
        assert.ok(!messages.some((m) => m.startsWith("drained")), messages.join("\n"));
        assert.equal(await slow, "failed");
    });
});

describe("real support: the LoadLoop against a local server", function () {
    interface Local {
        base: string;
        connections: number;
        echoed: number[];
        release: string;
        close(): Promise<void>;
    }

    /** A stand-in for the platform: answers like the api (echo counts bytes), names `release`, and can misbehave per path. */
    const serve = async (misbehave: (path: string, res: http.ServerResponse) => boolean = () => false): Promise<Local> => {
        const local: Local = { base: "", connections: 0, echoed: [], release: "a", close: () => Promise.resolve() };
        const server = http.createServer((req, res) => {
            res.setHeader("x-cartie-release", local.release);
            if (misbehave(req.url ?? "", res)) return;
            let bytes = 0;
            req.on("data", (d: Buffer) => (bytes += d.length));
            req.on("end", () => {
                if (req.url === "/api/echo") local.echoed.push(bytes);
                res.writeHead(200, { "content-type": "application/json" });
                res.end(JSON.stringify({ bytes }));
            });
        });
        server.on("connection", () => local.connections++);
        await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
        local.base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
        local.close = () => new Promise((r) => { server.closeAllConnections(); server.close(() => r()); });
        return local;
    };

    it("several keep-alive clients cycle through /, health, version and echo; the report sees every request, the switch per client and the slow request", async () => {
        const local = await serve();
        try {
            const loop = new LoadLoop({ baseUrl: local.base, clients: 3, pauseMs: 2 });
            loop.start();
            const slow = loop.slowRequest(800);
            await sleep(400);
            local.release = "b";
            await sleep(600);
            const slowSample = await slow;
            const report = await loop.stop();

            assert.equal(report.failures, 0);
            assert.equal(report.non2xx, 0);
            assert.ok(report.requests > 40, report.summary());
            assert.deepEqual(report.releasesByClient, [["a", "b"], ["a", "b"], ["a", "b"]]);
            // One connection per client, reused, plus the slow request's own.
            assert.equal(local.connections, 4);
            assert.deepEqual(new Set(report.samples.filter((s) => s.client === 0).map((s) => `${s.method} ${s.path}`)), new Set(["GET /", "GET /api/health", "GET /api/version", "POST /api/echo"]));

            assert.equal(slowSample.status, 200);
            assert.ok(slowSample.endedAt - slowSample.startedAt >= 750, `slow request took ${slowSample.endedAt - slowSample.startedAt} ms`);
            assert.deepEqual(report.slow, [slowSample]);
            assert.ok(local.echoed.includes(10 * 1024), "the slow body did not arrive whole");
            assert.match(report.summary(), new RegExp(`^${report.requests} requests, 0 failed, 0 non-2xx, 0 resent after a reused connection closed, releases a:\\d+ b:\\d+, \\d+\\.\\d s$`));
        } finally {
            await local.close();
        }
    });

    it("stops by itself at maxRequests and at maxDurationMs, even when stop() is never called in time", async () => {
        const local = await serve();
        try {
            const byCount = new LoadLoop({ baseUrl: local.base, clients: 2, maxRequests: 25, pauseMs: 0 });
            byCount.start();
            await sleep(500);
            assert.equal((await byCount.stop()).requests, 25);

            const byTime = new LoadLoop({ baseUrl: local.base, clients: 2, maxDurationMs: 200 });
            byTime.start();
            await sleep(500);
            const at500 = (await byTime.stop()).requests;
            await sleep(200);
            const report = await byTime.stop();
            assert.equal(report.requests, at500, "requests were still being sent after maxDurationMs");
            // Node's timers may fire a millisecond before Date.now() says 200 ms passed (seen in CI: 199 ms).
            assert.ok(report.durationMs >= 195 && report.durationMs < 400, `duration ${report.durationMs} ms`);
        } finally {
            await local.close();
        }
    });

    it("a request whose reused keep-alive connection is closed before any answer (a proxy reload) is sent again once, on a new connection", async () => {
        let closed = 0;
        const local = await serve((p, res) => {
            if (p === "/api/health" && closed++ === 0) {
                res.socket?.destroy();
                return true;
            }
            return false;
        });
        try {
            const loop = new LoadLoop({ baseUrl: local.base, clients: 1, maxRequests: 4, pauseMs: 0 });
            loop.start();
            await sleep(500);
            const report = await loop.stop();
            const health = report.samples.find((s) => s.path === "/api/health");
            assert.equal(health?.status, 200, JSON.stringify(health));
            assert.equal(health?.retried, true);
            assert.deepEqual([report.failures, report.retried, local.connections], [0, 1, 2]);
        } finally {
            await local.close();
        }
    });

    it("counts a reset connection and a timeout as failures and a 503 as non-2xx", async () => {
        const local = await serve((p, res) => {
            if (p === "/api/echo") {
                res.socket?.destroy();
                return true;
            }
            if (p === "/api/version") return true; // never answered
            if (p === "/api/health") {
                res.writeHead(503).end();
                return true;
            }
            return false;
        });
        try {
            const loop = new LoadLoop({ baseUrl: local.base, clients: 1, requestTimeoutMs: 300, maxRequests: 4 });
            loop.start();
            // The loop ends by itself after its 4 requests (one of them waits out its 300 ms timeout).
            await sleep(1000);
            const report = await loop.stop();
            const byPath = Object.fromEntries(report.samples.map((s) => [s.path, s]));
            assert.equal(byPath["/"].status, 200);
            assert.equal(byPath["/api/health"].status, 503);
            assert.equal(byPath["/api/version"].status, undefined);
            assert.equal(byPath["/api/version"].error, "timeout after 300 ms");
            assert.equal(byPath["/api/echo"].status, undefined);
            assert.match(byPath["/api/echo"].error ?? "", /ECONNRESET|socket hang up/);
            // Reset on a new connection (the timed-out request took the old one with it): never sent again.
            assert.equal(byPath["/api/echo"].retried, undefined);
            assert.equal(report.failures, 2);
            assert.equal(report.non2xx, 1);
            assert.match(report.summary(), /^4 requests, 2 failed, 1 non-2xx, 0 resent after a reused connection closed, releases a:2, /);
        } finally {
            await local.close();
        }
    });
});
