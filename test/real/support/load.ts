/**
 * A bounded load loop for the deploy tests: a few concurrent clients, each on its own keep-alive
 * connection (one `http.Agent` per client, one socket each, so a client's requests share a
 * connection the way a browser's do), cycling through the requests a user makes, recording every
 * answer and the release (`x-cartie-release`) that gave it. It stops by itself at its time or
 * request limit, so a test that fails before `stop()` never leaves it running.
 */
import { strict as assert } from "node:assert";
import * as http from "node:http";

export interface LoadOptions {
    /** `http://127.0.0.1:<port>`; every request goes there and nowhere else. */
    baseUrl: string;
    clients?: number /* default 6 */;
    /** Hard stop, even if stop() is never called. */
    maxDurationMs?: number /* default 120000 */;
    /** Hard stop over all clients. */
    maxRequests?: number /* default 200000 */;
    /** Between requests, per client. */
    pauseMs?: number /* default 20: enough load to see a gap, not so much that 2 cores starve the healthchecks */;
    /** Per request (a slow request gets its trickle time on top). */
    requestTimeoutMs?: number /* default 10000 */;
    /**
     * Send a request again, once, when its reused keep-alive connection was reset before any answer
     * (default true, as browsers do). False for the clients that never retry (an upstream load
     * balancer, a webhook sender, `curl` in a script): every such reset counts as a failure.
     */
    retryResetOnce?: boolean;
    /**
     * `keep-alive` (default): each client's requests share one connection, as a browser tab's do.
     * `new`: every request on a connection of its own, closed after the answer (`curl` in a loop,
     * a webhook sender): a switch must not refuse or reset a single one of them.
     */
    connection?: "keep-alive" | "new";
}

export interface LoadSample {
    /** 0-based client index; -1 for a `slowRequest` or `slowResponse`. */
    client: number;
    /** Per client, from 0 (per slow request for client -1). */
    seq: number;
    method: "GET" | "POST";
    path: string;
    /** Epoch ms, comparable with Docker's event and log times. */
    startedAt: number;
    endedAt: number;
    /** Absent when no answer came (connection error, reset, timeout). */
    status?: number;
    error?: string;
    /** The answer's `x-cartie-release` header. */
    release?: string;
    /**
     * Sent again on a fresh connection once, because the reused keep-alive connection it went out
     * on was closed before any byte of an answer (what a proxy's config reload does to idle
     * connections). Browsers, curl and Go's client do the same (RFC 9112 §9.3.1); the request
     * never reached the proxy's handler, so nothing ran twice.
     */
    retried?: boolean;
}

export interface LoadReport {
    /** Every request, the slow ones included. */
    requests: number;
    /** Requests without an answer: network errors and timeouts. */
    failures: number;
    /** Answers outside 2xx. */
    non2xx: number;
    /** Requests sent again after their reused connection closed before any answer (see LoadSample.retried). */
    retried: number;
    /** Every request in start order per client, then the slow ones. */
    samples: LoadSample[];
    /** The samples of `slowRequest` calls. */
    slow: LoadSample[];
    durationMs: number;
    /** Per client, the sequence of distinct x-cartie-release values seen on /api answers, in order (v1, v2, v1 is a flip-flop). */
    releasesByClient: string[][];
    /** One line: requests, failures, non-2xx, per-release counts, duration. */
    summary(): string;
}

interface Step {
    method: "GET" | "POST";
    path: string;
    body?: string;
}

/** What a user's browser does against the platform: the SPA, the api's health and version, a write. */
const CYCLE: readonly Step[] = [
    { method: "GET", path: "/" },
    { method: "GET", path: "/api/health" },
    { method: "GET", path: "/api/version" },
    { method: "POST", path: "/api/echo", body: JSON.stringify({ note: "load", items: [1, 2, 3] }) },
];

const RELEASE_HEADER = "x-cartie-release";

function headerValue(v: string | string[] | undefined): string | undefined {
    return Array.isArray(v) ? v[0] : v;
}

export class LoadLoop {
    private readonly base: URL;
    private readonly clients: number;
    private readonly maxDurationMs: number;
    private readonly maxRequests: number;
    private readonly pauseMs: number;
    private readonly timeoutMs: number;
    private readonly retryResetOnce: boolean;
    private readonly connection: "keep-alive" | "new";
    private readonly perClient: LoadSample[][] = [];
    private readonly slowSamples: LoadSample[] = [];
    private readonly agents: http.Agent[] = [];
    private readonly pending = new Set<Promise<unknown>>();
    private started = 0;
    private stoppedAt = 0;
    private stopping = false;
    private issued = 0;
    private limitTimer: NodeJS.Timeout | undefined;
    private loops: Array<Promise<void>> = [];

    constructor(opts: LoadOptions) {
        this.base = new URL(opts.baseUrl);
        if (this.base.protocol !== "http:") throw new Error(`LoadLoop speaks plain http only, got ${opts.baseUrl}`);
        this.clients = opts.clients ?? 6;
        this.maxDurationMs = opts.maxDurationMs ?? 120_000;
        this.maxRequests = opts.maxRequests ?? 200_000;
        this.pauseMs = opts.pauseMs ?? 20;
        this.timeoutMs = opts.requestTimeoutMs ?? 10_000;
        this.retryResetOnce = opts.retryResetOnce ?? true;
        this.connection = opts.connection ?? "keep-alive";
    }

    start(): void {
        if (this.started) throw new Error("LoadLoop already started");
        this.started = Date.now();
        // unref'd: the limit must not keep a finished test process alive.
        this.limitTimer = setTimeout(() => this.halt(), this.maxDurationMs);
        this.limitTimer.unref();
        for (let c = 0; c < this.clients; c++) {
            // One socket per client: its requests reuse one connection, like a browser tab's (or, with
            // `connection: "new"`, one connection per request, closed after its answer).
            const agent = new http.Agent({ keepAlive: this.connection === "keep-alive", maxSockets: 1 });
            this.agents.push(agent);
            this.perClient.push([]);
            this.loops.push(this.client(c, agent));
        }
    }

    /** A POST /api/echo whose body is trickled for durationMs (spans a switch); resolves with its sample. */
    slowRequest(durationMs: number): Promise<LoadSample> {
        const seq = this.slowSamples.length;
        const chunks = 10;
        const chunk = Buffer.alloc(1024, "s");
        const sample: LoadSample = { client: -1, seq, method: "POST", path: "/api/echo", startedAt: Date.now(), endedAt: 0 };
        this.slowSamples.push(sample);
        // Its own connection: a proxy or api must keep this one open while it drains the others.
        const agent = new http.Agent({ keepAlive: false });
        const done = this.send(sample, agent, durationMs + this.timeoutMs, (req) => {
            req.setHeader("content-type", "application/octet-stream");
            req.setHeader("content-length", String(chunk.length * chunks));
            let sent = 0;
            const tick = (): void => {
                if (req.destroyed) return;
                req.write(chunk);
                if (++sent === chunks) req.end();
                else setTimeout(tick, durationMs / (chunks - 1));
            };
            tick();
        }).finally(() => agent.destroy());
        this.track(done);
        return done.then(() => sample);
    }

    /** A GET /api/stream whose answer comes in ten lines over durationMs (a long download spanning a switch). */
    slowResponse(durationMs: number): Promise<LoadSample> {
        const seq = this.slowSamples.length;
        const sample: LoadSample = { client: -1, seq, method: "GET", path: `/api/stream?ms=${durationMs}`, startedAt: Date.now(), endedAt: 0 };
        this.slowSamples.push(sample);
        const agent = new http.Agent({ keepAlive: false });
        const done = this.send(sample, agent, durationMs + this.timeoutMs, (req) => req.end()).finally(() => agent.destroy());
        this.track(done);
        return done.then(() => sample);
    }

    /** Stops issuing requests, waits for those in flight, and reports. */
    async stop(): Promise<LoadReport> {
        this.halt();
        await Promise.all(this.loops);
        await Promise.allSettled([...this.pending]);
        for (const a of this.agents) a.destroy();
        return this.report();
    }

    private halt(): void {
        if (this.stopping) return;
        this.stopping = true;
        this.stoppedAt = Date.now();
        if (this.limitTimer) clearTimeout(this.limitTimer);
    }

    private track(p: Promise<unknown>): void {
        this.pending.add(p);
        void p.finally(() => this.pending.delete(p));
    }

    private async client(index: number, agent: http.Agent): Promise<void> {
        for (let seq = 0; !this.stopping; seq++) {
            if (this.issued >= this.maxRequests) {
                this.halt();
                break;
            }
            this.issued++;
            const step = CYCLE[seq % CYCLE.length];
            const sample: LoadSample = { client: index, seq, method: step.method, path: step.path, startedAt: Date.now(), endedAt: 0 };
            this.perClient[index].push(sample);
            await this.send(sample, agent, this.timeoutMs, (req) => {
                if (step.body === undefined) {
                    req.end();
                    return;
                }
                req.setHeader("content-type", "application/json");
                req.setHeader("content-length", String(Buffer.byteLength(step.body)));
                req.end(step.body);
            });
            if (this.pauseMs > 0 && !this.stopping) await new Promise((r) => setTimeout(r, this.pauseMs));
        }
    }

    /** Sends one request, fills in the sample; never rejects. */
    private send(sample: LoadSample, agent: http.Agent, timeoutMs: number, writeBody: (req: http.ClientRequest) => void, retry = this.retryResetOnce): Promise<void> {
        return new Promise((resolve) => {
            let settled = false;
            let answered = false;
            const settle = (fields: Partial<LoadSample>): void => {
                if (settled) return;
                settled = true;
                clearTimeout(timer);
                Object.assign(sample, fields, { endedAt: Date.now() });
                resolve();
            };
            const req = http.request({ host: this.base.hostname, port: this.base.port || 80, method: sample.method, path: sample.path, agent });
            const timer = setTimeout(() => {
                settle({ error: `timeout after ${timeoutMs} ms` });
                req.destroy();
            }, timeoutMs);
            req.on("error", (err: NodeJS.ErrnoException) => {
                // Node's own documented pattern (http `request.reusedSocket`): a reused keep-alive
                // socket the server closed just as the request went out fails with ECONNRESET
                // before any answer; send it again, once, on a new connection.
                if (retry && req.reusedSocket && !answered && (err.code === "ECONNRESET" || err.code === "EPIPE") && !settled) {
                    settled = true;
                    clearTimeout(timer);
                    sample.retried = true;
                    void this.send(sample, agent, timeoutMs, writeBody, false).then(resolve);
                    return;
                }
                settle({ error: err.code ? `${err.code}: ${err.message}` : err.message });
            });
            req.on("response", (res) => {
                answered = true;
                const status = res.statusCode ?? 0;
                const release = headerValue(res.headers[RELEASE_HEADER]);
                // Read to the end: an unread body keeps the connection from being reused.
                res.resume();
                res.on("end", () => settle({ status, release }));
                res.on("error", (err: Error) => settle({ error: `answer ${status} cut off: ${err.message}` }));
                res.on("close", () => {
                    if (!res.complete) settle({ error: `answer ${status} cut off` });
                });
            });
            writeBody(req);
        });
    }

    private report(): LoadReport {
        const loopSamples = this.perClient.flat();
        const samples = [...loopSamples, ...this.slowSamples];
        const releasesByClient = this.perClient.map((list) => {
            const seen: string[] = [];
            for (const s of list) {
                if (!s.path.startsWith("/api") || s.release === undefined) continue;
                if (seen[seen.length - 1] !== s.release) seen.push(s.release);
            }
            return seen;
        });
        const lastEnd = Math.max(this.stoppedAt, ...samples.map((s) => s.endedAt));
        const durationMs = this.started ? lastEnd - this.started : 0;
        const failures = samples.filter((s) => s.status === undefined).length;
        const non2xx = samples.filter((s) => s.status !== undefined && (s.status < 200 || s.status > 299)).length;
        const retried = samples.filter((s) => s.retried).length;
        const perRelease = new Map<string, number>();
        for (const s of samples) {
            if (s.status === undefined) continue;
            const key = s.release ?? "(none)";
            perRelease.set(key, (perRelease.get(key) ?? 0) + 1);
        }
        return {
            requests: samples.length,
            failures,
            non2xx,
            retried,
            samples,
            slow: [...this.slowSamples],
            durationMs,
            releasesByClient,
            summary: () =>
                `${samples.length} requests, ${failures} failed, ${non2xx} non-2xx, ${retried} resent after a reused connection closed, releases ${[...perRelease].map(([r, n]) => `${r}:${n}`).join(" ") || "none"}, ${(durationMs / 1000).toFixed(1)} s`,
        };
    }
}

/** No request failed or answered outside 2xx, and the loop really ran (over 100 requests). */
export function assertNoDrop(r: LoadReport): void {
    const bad = r.samples.filter((s) => s.error !== undefined || (s.status ?? 0) < 200 || (s.status ?? 0) > 299).slice(0, 5);
    assert.equal(r.failures, 0, `failed requests: ${JSON.stringify(bad)}`);
    assert.equal(r.non2xx, 0, `non-2xx answers: ${JSON.stringify(bad)}`);
    assert.ok(r.requests > 100, `the load loop sent only ${r.requests} requests`);
}

/**
 * The clients that never send a request again (issue 22), as the no-reload test and the switch
 * benchmark run them: 4 on keep-alive connections and 3 on a new connection per request, with no
 * pause between requests (together several hundred requests a second through the proxy here).
 */
export function neverRetryingClients(baseUrl: string): { keepAlive: LoadLoop; fresh: LoadLoop } {
    const common = { baseUrl, pauseMs: 0, retryResetOnce: false, maxDurationMs: 600_000, maxRequests: 5_000_000 };
    return { keepAlive: new LoadLoop({ ...common, clients: 4 }), fresh: new LoadLoop({ ...common, clients: 3, connection: "new" }) };
}
