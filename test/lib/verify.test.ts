import { strict as assert } from "node:assert";
import * as http from "node:http";
import { AddressInfo } from "node:net";
import { VerificationError, checkEndpoint, localProxyUrl, verificationUrls, verifyEndpoints } from "../../lib/verify";

/** A real HTTP server whose answer per path is a queue of statuses (the last one repeats). */
async function serve(statuses: Record<string, number[]>): Promise<{ base: string; close: () => Promise<void>; hits: Record<string, number> }> {
    const hits: Record<string, number> = {};
    const server = http.createServer((req, res) => {
        const p = req.url ?? "/";
        hits[p] = (hits[p] ?? 0) + 1;
        const queue = statuses[p] ?? [404];
        res.writeHead(queue.length > 1 ? (queue.shift() as number) : queue[0]).end("x");
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const { port } = server.address() as AddressInfo;
    return { base: `http://127.0.0.1:${port}`, hits, close: () => new Promise((r) => server.close(() => r())) };
}

const fast = { minDelayMs: 10, maxDelayMs: 20 };

describe("verification", () => {
    it("retries until the endpoint answers 200", async () => {
        const s = await serve({ "/api/health": [502, 503, 200] });
        try {
            const r = await checkEndpoint(`${s.base}/api/health`, { ...fast, attempts: 5 });
            assert.deepEqual({ ok: r.ok, status: r.status, attempts: r.attempts }, { ok: true, status: 200, attempts: 3 });
        } finally {
            await s.close();
        }
    });

    it("fails naming the URL and the status after bounded attempts", async () => {
        const s = await serve({ "/": [200], "/api/health": [502] });
        try {
            await assert.rejects(verifyEndpoints(verificationUrls(s.base, "/api/health"), { ...fast, attempts: 3 }), (err: Error) => {
                assert.ok(err instanceof VerificationError);
                assert.equal(err.message, `Verification failed: GET ${s.base}/api/health answered 502 after 3 attempt(s), expected 200`);
                return true;
            });
            assert.equal(s.hits["/api/health"], 3);
        } finally {
            await s.close();
        }
    });

    it("reports an unreachable proxy as such", async () => {
        const s = await serve({});
        await s.close();
        await assert.rejects(verifyEndpoints([`${s.base}/`], { ...fast, attempts: 2 }), /GET http:\/\/127\.0\.0\.1:\d+\/ answered nothing \(ECONNREFUSED\) after 2 attempt/);
    });

    it("reaches a published port from this host: the bound address, loopback when bound to all", () => {
        assert.equal(localProxyUrl("127.0.0.1", 8082), "http://127.0.0.1:8082");
        assert.equal(localProxyUrl("0.0.0.0", 8082), "http://127.0.0.1:8082");
        assert.equal(localProxyUrl("", "8082"), "http://127.0.0.1:8082");
        assert.equal(localProxyUrl("::", 8082), "http://[::1]:8082");
        assert.equal(localProxyUrl("fd00::5", 8082), "http://[fd00::5]:8082");
    });

    it("checks the web root and the api health", () => {
        assert.deepEqual(verificationUrls("http://127.0.0.1:8082/", "/api/health"), ["http://127.0.0.1:8082/", "http://127.0.0.1:8082/api/health"]);
    });
});
