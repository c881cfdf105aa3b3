import { strict as assert } from "node:assert";
import * as http from "node:http";
import { AddressInfo } from "node:net";
import { Get, VerificationError, checkEndpoint, classifyCertificateError, localProxyHost, localProxyUrl, verificationUrls, verifyEndpoints } from "../../../lib/verify";

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

describe("verification over HTTPS: a certificate problem is named as such", () => {
    const url = "https://cartie.test:18443/api/health";
    const failWith = (code: string, message = code): Get => () => Promise.reject(Object.assign(new Error(message), { code }));

    it("classifies Node's TLS errors: name mismatch, not yet issued, untrusted issuer, expired, not yet valid", () => {
        const kind = (code: string, mode: "acme" | "internal" = "acme"): string | undefined => classifyCertificateError(code, code, url, mode)?.kind;
        assert.equal(kind("ERR_TLS_CERT_ALTNAME_INVALID"), "name mismatch");
        assert.equal(kind("ERR_SSL_TLSV1_ALERT_INTERNAL_ERROR"), "not yet issued");
        assert.equal(kind("ERR_SSL_TLSV1_UNRECOGNIZED_NAME"), "not yet issued");
        // what Node 20 reports for Caddy 2.6's refusal of a name it has no certificate for (seen in test/real/https)
        const eproto = "write EPROTO 800CAD1FB77F0000:error:0A000438:SSL routines:ssl3_read_bytes:tlsv1 alert internal error:../deps/openssl/openssl/ssl/record/rec_layer_s3.c:1601:SSL alert number 80\n";
        assert.equal(classifyCertificateError("EPROTO", eproto, url, "internal")?.kind, "not yet issued");
        assert.equal(classifyCertificateError("EPROTO", "wrong version number", url, "internal"), undefined, "a plain-HTTP port answering is not a certificate problem");
        for (const code of ["DEPTH_ZERO_SELF_SIGNED_CERT", "SELF_SIGNED_CERT_IN_CHAIN", "UNABLE_TO_GET_ISSUER_CERT_LOCALLY", "UNABLE_TO_VERIFY_LEAF_SIGNATURE"]) {
            assert.equal(kind(code), "untrusted issuer", code);
            assert.equal(kind(code, "internal"), "untrusted issuer", code);
        }
        assert.equal(kind("CERT_HAS_EXPIRED"), "expired");
        assert.equal(kind("CERT_NOT_YET_VALID"), "not yet valid");
        for (const code of ["ECONNREFUSED", "ETIMEDOUT", "ECONNRESET"]) assert.equal(kind(code), undefined, `${code} is not a certificate problem`);
        assert.equal(classifyCertificateError(undefined, "boom", url, "acme"), undefined);
    });

    it("gives each its fix: the names the certificate has, DNS and ports for ACME, the data volume for the internal CA", () => {
        const mismatch = classifyCertificateError("ERR_TLS_CERT_ALTNAME_INVALID", "Hostname/IP does not match certificate's altnames: Host: cartie.test. is not in the cert's altnames: DNS:other.test", url, "internal");
        assert.match(mismatch?.problem ?? "", /not for that name \(it names DNS:other\.test\)/);
        assert.match(mismatch?.fix ?? "", /add cartie\.test to cartie:domain/);
        assert.match(classifyCertificateError("ERR_SSL_TLSV1_ALERT_INTERNAL_ERROR", "", url, "acme")?.fix ?? "", /DNS A\/AAAA record for cartie\.test .* ports 80 and 443/);
        assert.match(classifyCertificateError("UNABLE_TO_VERIFY_LEAF_SIGNATURE", "", url, "internal")?.fix ?? "", /caddy-data volume/);
        assert.match(classifyCertificateError("UNABLE_TO_VERIFY_LEAF_SIGNATURE", "", url, "acme")?.problem ?? "", /not from a publicly trusted CA/);
    });

    it("fails the verification saying it is the certificate, with the fix, not a generic failure", async () => {
        await assert.rejects(
            verifyEndpoints([url], { ...fast, attempts: 2, tlsMode: "internal", get: failWith("ERR_TLS_CERT_ALTNAME_INVALID", "altnames: DNS:other.test") }),
            (err: Error) => {
                assert.ok(err instanceof VerificationError);
                assert.match(err.message, /^Verification failed: GET https:\/\/cartie\.test:18443\/api\/health: certificate problem \(name mismatch\) after 2 attempt\(s\): .*DNS:other\.test.*\n  fix: add cartie\.test/);
                assert.equal(err.results[0].certificate?.kind, "name mismatch");
                return true;
            },
        );
        // a refused connection over HTTPS stays what it is
        await assert.rejects(verifyEndpoints([url], { ...fast, attempts: 1, get: failWith("ECONNREFUSED") }), /answered nothing \(ECONNREFUSED\)/);
    });

    it("connects to the published address: loopback when bound to every interface", () => {
        assert.equal(localProxyHost("0.0.0.0"), "127.0.0.1");
        assert.equal(localProxyHost("::"), "::1");
        assert.equal(localProxyHost("10.0.0.5"), "10.0.0.5");
    });
});
