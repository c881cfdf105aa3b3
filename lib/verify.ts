import * as https from "node:https";
import pRetry, { AbortError } from "p-retry";

export interface EndpointResult {
    url: string;
    status: number | "unreachable";
    attempts: number;
    ok: boolean;
    detail?: string;
    /** Set when the HTTPS handshake failed on the certificate: what is wrong with it and the fix. */
    certificate?: CertificateProblem;
}

/** One GET: the status, or a thrown error whose `code` says why (ECONNREFUSED, CERT_HAS_EXPIRED, …). */
export type Get = (url: string, timeoutMs: number) => Promise<number>;

export interface VerifyOptions {
    /** Attempts per URL, including the first. */
    attempts?: number;
    /** Delay before the first retry; later ones back off up to maxDelayMs. */
    minDelayMs?: number;
    maxDelayMs?: number;
    timeoutMs?: number;
    fetchImpl?: typeof fetch;
    /** How to GET (an HTTPS GET pinned to the proxy's address: `pinnedHttpsGet`); default: fetch. */
    get?: Get;
    /** With HTTPS: how the certificate is issued, so a certificate problem gets the right fix. */
    tlsMode?: "acme" | "internal";
}

export class VerificationError extends Error {
    constructor(readonly results: EndpointResult[]) {
        super(
            `Verification failed: ${results
                .filter((r) => !r.ok)
                .map((r) =>
                    r.certificate
                        ? `GET ${r.url}: certificate problem (${r.certificate.kind}) after ${r.attempts} attempt(s): ${r.certificate.problem}\n  fix: ${r.certificate.fix}`
                        : `GET ${r.url} answered ${r.status === "unreachable" ? `nothing (${r.detail ?? "unreachable"})` : r.status} after ${r.attempts} attempt(s), expected 200`,
                )
                .join("; ")}`,
        );
        this.name = "VerificationError";
    }
}

class NotYet extends Error {
    constructor(
        readonly status: number | "unreachable",
        detail: string,
        readonly code?: string,
        /** The error's own words (Node names the certificate's altnames there). */
        readonly raw?: string,
    ) {
        super(detail);
    }
}

function fetchGet(doFetch: typeof fetch): Get {
    return async (url, timeoutMs) => {
        let res: Response;
        try {
            res = await doFetch(url, { signal: AbortSignal.timeout(timeoutMs), redirect: "manual" });
        } catch (err) {
            const cause = (err as { cause?: { code?: string } }).cause?.code;
            throw Object.assign(new Error(cause ?? (err as Error).message), { code: cause });
        }
        await res.arrayBuffer().catch(() => undefined);
        return res.status;
    };
}

/**
 * An HTTPS GET that connects to `connectHost` (the address the proxy is published on) while the
 * TLS name (SNI), the certificate check and the Host header are the URL's host: it checks
 * `https://<domain>/` exactly as a browser would, without DNS. `ca`: the PEM roots to trust (Caddy's
 * internal root); undefined trusts Node's public roots, as a browser does for ACME certificates.
 */
export function pinnedHttpsGet(connectHost: string, ca?: string): Get {
    return (url, timeoutMs) =>
        new Promise<number>((resolve, reject) => {
            const u = new URL(url);
            const req = https.request(
                {
                    host: connectHost,
                    port: u.port === "" ? 443 : Number(u.port),
                    path: `${u.pathname}${u.search}`,
                    method: "GET",
                    servername: u.hostname,
                    headers: { host: u.host },
                    ...(ca !== undefined ? { ca } : {}),
                    agent: false,
                    timeout: timeoutMs,
                },
                (res) => {
                    res.resume();
                    res.on("end", () => resolve(res.statusCode ?? 0));
                    res.on("error", reject);
                },
            );
            req.on("timeout", () => req.destroy(Object.assign(new Error("timeout"), { code: "ETIMEDOUT" })));
            req.on("error", reject);
            req.end();
        });
}

export type CertificateProblemKind = "name mismatch" | "not yet issued" | "untrusted issuer" | "expired" | "not yet valid";

export interface CertificateProblem {
    kind: CertificateProblemKind;
    problem: string;
    fix: string;
}

/** Node's codes for a certificate chain no trusted root signs. */
const UNTRUSTED = new Set(["DEPTH_ZERO_SELF_SIGNED_CERT", "SELF_SIGNED_CERT_IN_CHAIN", "UNABLE_TO_GET_ISSUER_CERT", "UNABLE_TO_GET_ISSUER_CERT_LOCALLY", "UNABLE_TO_VERIFY_LEAF_SIGNATURE", "CERT_UNTRUSTED", "CERT_SIGNATURE_FAILURE"]);
/**
 * Caddy answers a handshake for a name it has no certificate for (yet) with an alert; Node reports
 * it as EPROTO with OpenSSL's words ("tlsv1 alert internal error"), or under the alert's own code.
 */
const NO_CERTIFICATE = new Set(["ERR_SSL_TLSV1_ALERT_INTERNAL_ERROR", "ERR_SSL_TLSV1_UNRECOGNIZED_NAME", "ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE"]);
const NO_CERTIFICATE_ALERT = /alert (internal error|unrecognized name|handshake failure)/i;

/**
 * Names a failed HTTPS GET as the certificate problem it is, with its fix, or undefined when the
 * failure is not about the certificate (refused, timeout, a status).
 */
export function classifyCertificateError(code: string | undefined, message: string, url: string, mode: "acme" | "internal"): CertificateProblem | undefined {
    if (!code) return undefined;
    const host = new URL(url).hostname;
    const logs = "`docker logs <the proxy container>` (label io.cartie.platform.component=proxy) says why";
    if (code === "ERR_TLS_CERT_ALTNAME_INVALID") {
        // Node: "Host: x. is not in the cert's altnames: DNS:y" — the last "altnames:" lists the certificate's.
        const names = /.*altnames: (.*)$/.exec(message)?.[1];
        return {
            kind: "name mismatch",
            problem: `the certificate served for ${host} is not for that name${names ? ` (it names ${names})` : ""}`,
            fix: `add ${host} to cartie:domain (the proxy obtains one certificate per name) and run \`pulumi up\`; if it is there, check that DNS for ${host} points at this host`,
        };
    }
    if (code === "CERT_HAS_EXPIRED") {
        return {
            kind: "expired",
            problem: `the certificate served for ${host} has expired`,
            fix: `Caddy renews ${mode === "acme" ? "30 days" : "well"} before expiry unless it cannot: ${logs} (for ACME: ports 80/443 unreachable from the internet, DNS moved, a rate limit)`,
        };
    }
    if (code === "CERT_NOT_YET_VALID") {
        return { kind: "not yet valid", problem: `the certificate served for ${host} is not valid yet`, fix: "this host's clock is behind: sync it (timedatectl set-ntp true), then run `pulumi up` again" };
    }
    if (UNTRUSTED.has(code)) {
        return mode === "internal"
            ? {
                  kind: "untrusted issuer",
                  problem: `the certificate served for ${host} is not signed by the proxy's internal root (${code})`,
                  fix: "the root in the proxy's data volume and the certificate disagree: check that the proxy mounts its caddy-data volume, then `docker restart` it",
              }
            : {
                  kind: "untrusted issuer",
                  problem: `the certificate served for ${host} is not from a publicly trusted CA (${code}): not issued yet, or a staging/self-signed one`,
                  fix: `${logs}: the usual causes are a DNS A/AAAA record for ${host} that does not point at this host, or ports 80 and 443 closed to the internet`,
              };
    }
    if (NO_CERTIFICATE.has(code) || (code === "EPROTO" && NO_CERTIFICATE_ALERT.test(message))) {
        return {
            kind: "not yet issued",
            problem: `the proxy has no certificate for ${host} yet (the TLS handshake was refused: ${NO_CERTIFICATE_ALERT.exec(message)?.[0] ?? code})`,
            fix:
                mode === "acme"
                    ? `${logs}: ACME needs a DNS A/AAAA record for ${host} pointing at this host and ports 80 and 443 open to the internet; Caddy keeps retrying`
                    : `${logs}; check that ${host} is in cartie:domain`,
        };
    }
    return undefined;
}

/** GETs one URL until it answers 200 or the attempts run out (retries with p-retry's backoff). */
export async function checkEndpoint(url: string, opts: VerifyOptions = {}): Promise<EndpointResult> {
    const get = opts.get ?? fetchGet(opts.fetchImpl ?? fetch);
    const attempts = opts.attempts ?? 10;
    let tries = 0;
    let last: NotYet | undefined;
    try {
        await pRetry(
            async () => {
                tries++;
                let status: number;
                try {
                    status = await get(url, opts.timeoutMs ?? 5000);
                } catch (err) {
                    const code = (err as { code?: string }).code;
                    throw (last = new NotYet("unreachable", code ?? (err as Error).message, code, (err as Error).message));
                }
                if (status !== 200) throw (last = new NotYet(status, `status ${status}`));
            },
            { retries: attempts - 1, minTimeout: opts.minDelayMs ?? 1000, maxTimeout: opts.maxDelayMs ?? 5000, factor: 1.5, randomize: false },
        );
        return { url, status: 200, attempts: tries, ok: true };
    } catch (err) {
        if (err instanceof AbortError) throw err;
        const certificate = url.startsWith("https:") && last ? classifyCertificateError(last.code, last.raw ?? last.message, url, opts.tlsMode ?? "acme") : undefined;
        return { url, status: last?.status ?? "unreachable", attempts: tries, ok: false, detail: last?.message, ...(certificate ? { certificate } : {}) };
    }
}

/** Checks every URL; resolves with the results when all answer 200, else throws VerificationError. */
export async function verifyEndpoints(urls: string[], opts: VerifyOptions = {}): Promise<EndpointResult[]> {
    const results = await Promise.all(urls.map((u) => checkEndpoint(u, opts)));
    if (results.some((r) => !r.ok)) throw new VerificationError(results);
    return results;
}

/** The address this host reaches a port published on `bind` at: that address, or loopback when bound to every interface. */
export function localProxyHost(bind: string): string {
    return bind === "" || bind === "0.0.0.0" ? "127.0.0.1" : bind === "::" ? "::1" : bind;
}

/** Where this host reaches a port published on `bind`, as a URL. */
export function localProxyUrl(bind: string, port: number | string): string {
    const host = localProxyHost(bind);
    return `http://${host.includes(":") ? `[${host}]` : host}:${port}`;
}

/** The URLs the platform must answer on: the web root and the api health through the proxy. */
export function verificationUrls(publicUrl: string, healthPath: string): string[] {
    const base = publicUrl.replace(/\/+$/, "");
    return [`${base}/`, `${base}${healthPath}`];
}
