/**
 * Run by the Verification command resource after any container changes: the platform is healthy
 * only when `/` and `/api/health` both answer 200 through the proxy. Prints the results as JSON.
 * With TLS on (CARTIE_VERIFY_TLS) the URLs are `https://<domain>…`, reached at CARTIE_VERIFY_CONNECT
 * with the domain as TLS name and Host; `internal` trusts the root read from the proxy (in memory only).
 */
import { readInternalRoot } from "../lib/proxy/root";
import { VerificationError, VerifyOptions, pinnedHttpsGet, verifyEndpoints } from "../lib/verify";

async function main(): Promise<void> {
    const urls = (process.env.CARTIE_VERIFY_URLS ?? "").split(/\s+/).filter(Boolean);
    if (urls.length === 0) {
        console.error("verify: CARTIE_VERIFY_URLS is empty (it is set by the cartie:platform:Verification resource)");
        process.exit(2);
    }
    const attempts = Number(process.env.CARTIE_VERIFY_ATTEMPTS ?? "15");
    const opts: VerifyOptions = { attempts };
    const mode = process.env.CARTIE_VERIFY_TLS;
    if (mode === "acme" || mode === "internal") {
        const connect = process.env.CARTIE_VERIFY_CONNECT ?? "127.0.0.1";
        let ca: string | undefined;
        if (mode === "internal") {
            const proxy = process.env.CARTIE_VERIFY_PROXY ?? "";
            try {
                ca = await readInternalRoot(proxy);
            } catch (err) {
                console.error(`verify: ${(err as Error).message}`);
                console.log(JSON.stringify({ healthy: false, results: [] }));
                process.exit(1);
            }
        }
        Object.assign(opts, { get: pinnedHttpsGet(connect, ca), tlsMode: mode });
    }
    try {
        const results = await verifyEndpoints(urls, opts);
        console.log(JSON.stringify({ healthy: true, results }));
    } catch (err) {
        if (err instanceof VerificationError) {
            console.error(err.message);
            console.log(JSON.stringify({ healthy: false, results: err.results }));
            process.exit(1);
        }
        throw err;
    }
}

void main();
