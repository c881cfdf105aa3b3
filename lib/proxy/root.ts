import { docker } from "../docker/cli";
import { INTERNAL_ROOT_PATH } from "./caddyfile";

/**
 * The root certificate of the proxy's internal CA (`tls internal`), read from the running proxy
 * into memory: what a client must trust to check the site's certificate chain. Caddy creates it on
 * its first start with an HTTPS site; a just-started proxy gets a few seconds to do so.
 */
export async function readInternalRoot(proxy: string, opts: { attempts?: number; delayMs?: number } = {}): Promise<string> {
    if (proxy === "") throw new Error("no proxy container named to read the internal CA's root from");
    const attempts = opts.attempts ?? 10;
    let last = "";
    for (let i = 1; i <= attempts; i++) {
        const r = await docker(["exec", proxy, "cat", INTERNAL_ROOT_PATH]);
        if (r.code === 0 && r.stdout.includes("BEGIN CERTIFICATE")) return r.stdout;
        last = r.stderr.trim() || "empty file";
        if (i < attempts) await new Promise((res) => setTimeout(res, opts.delayMs ?? 1000));
    }
    throw new Error(
        `cannot read the internal CA's root ${INTERNAL_ROOT_PATH} from ${proxy}: ${last}; check that the proxy runs with its caddy-data volume mounted at /data and serves an HTTPS site (\`docker logs ${proxy}\`)`,
    );
}
