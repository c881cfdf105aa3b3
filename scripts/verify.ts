/**
 * Run by the Verification command resource after any container changes: the platform is healthy
 * only when `/` and `/api/health` both answer 200 through the proxy. Prints the results as JSON.
 */
import { VerificationError, verifyEndpoints } from "../lib/verify";

async function main(): Promise<void> {
    const urls = (process.env.CARTIE_VERIFY_URLS ?? "").split(/\s+/).filter(Boolean);
    if (urls.length === 0) {
        console.error("verify: CARTIE_VERIFY_URLS is empty (it is set by the cartie:platform:Verification resource)");
        process.exit(2);
    }
    const attempts = Number(process.env.CARTIE_VERIFY_ATTEMPTS ?? "15");
    try {
        const results = await verifyEndpoints(urls, { attempts });
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
