import pRetry, { AbortError } from "p-retry";

export interface EndpointResult {
    url: string;
    status: number | "unreachable";
    attempts: number;
    ok: boolean;
    detail?: string;
}

export interface VerifyOptions {
    /** Attempts per URL, including the first. */
    attempts?: number;
    /** Delay before the first retry; later ones back off up to maxDelayMs. */
    minDelayMs?: number;
    maxDelayMs?: number;
    timeoutMs?: number;
    fetchImpl?: typeof fetch;
}

export class VerificationError extends Error {
    constructor(readonly results: EndpointResult[]) {
        super(
            `Verification failed: ${results
                .filter((r) => !r.ok)
                .map((r) => `GET ${r.url} answered ${r.status === "unreachable" ? `nothing (${r.detail ?? "unreachable"})` : r.status} after ${r.attempts} attempt(s), expected 200`)
                .join("; ")}`,
        );
        this.name = "VerificationError";
    }
}

class NotYet extends Error {
    constructor(readonly status: number | "unreachable", detail: string) {
        super(detail);
    }
}

/** GETs one URL until it answers 200 or the attempts run out (retries with p-retry's backoff). */
export async function checkEndpoint(url: string, opts: VerifyOptions = {}): Promise<EndpointResult> {
    const doFetch = opts.fetchImpl ?? fetch;
    const attempts = opts.attempts ?? 10;
    let tries = 0;
    let last: NotYet | undefined;
    try {
        await pRetry(
            async () => {
                tries++;
                let res: Response;
                try {
                    res = await doFetch(url, { signal: AbortSignal.timeout(opts.timeoutMs ?? 5000), redirect: "manual" });
                } catch (err) {
                    const cause = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).message;
                    throw (last = new NotYet("unreachable", cause));
                }
                await res.arrayBuffer().catch(() => undefined);
                if (res.status !== 200) throw (last = new NotYet(res.status, `status ${res.status}`));
            },
            { retries: attempts - 1, minTimeout: opts.minDelayMs ?? 1000, maxTimeout: opts.maxDelayMs ?? 5000, factor: 1.5, randomize: false },
        );
        return { url, status: 200, attempts: tries, ok: true };
    } catch (err) {
        if (err instanceof AbortError) throw err;
        return { url, status: last?.status ?? "unreachable", attempts: tries, ok: false, detail: last?.message };
    }
}

/** Checks every URL; resolves with the results when all answer 200, else throws VerificationError. */
export async function verifyEndpoints(urls: string[], opts: VerifyOptions = {}): Promise<EndpointResult[]> {
    const results = await Promise.all(urls.map((u) => checkEndpoint(u, opts)));
    if (results.some((r) => !r.ok)) throw new VerificationError(results);
    return results;
}

/** Where this host reaches a port published on `bind`: that address, or loopback when bound to every interface. */
export function localProxyUrl(bind: string, port: number | string): string {
    const host = bind === "" || bind === "0.0.0.0" ? "127.0.0.1" : bind === "::" ? "[::1]" : bind.includes(":") ? `[${bind}]` : bind;
    return `http://${host}:${port}`;
}

/** The URLs the platform must answer on: the web root and the api health through the proxy. */
export function verificationUrls(publicUrl: string, healthPath: string): string[] {
    const base = publicUrl.replace(/\/+$/, "");
    return [`${base}/`, `${base}${healthPath}`];
}
