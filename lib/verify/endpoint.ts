/** The post-deploy verification: GET each public URL until it answers 200, with bounded retries; why not, when it does not. */
import pRetry, { AbortError } from "p-retry";
import { CertificateProblem, classifyCertificateError } from "./certificates";
import { Get, fetchGet } from "./get";

export interface EndpointResult {
    url: string;
    status: number | "unreachable";
    attempts: number;
    ok: boolean;
    detail?: string;
    /** Set when the HTTPS handshake failed on the certificate: what is wrong with it and the fix. */
    certificate?: CertificateProblem;
}

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
