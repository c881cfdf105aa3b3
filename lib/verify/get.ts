/** How the verification GETs a URL: fetch, or an HTTPS GET pinned to the proxy's address. */
import * as https from "node:https";

/** One GET: the status, or a thrown error whose `code` says why (ECONNREFUSED, CERT_HAS_EXPIRED, …). */
export type Get = (url: string, timeoutMs: number) => Promise<number>;

export function fetchGet(doFetch: typeof fetch): Get {
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
