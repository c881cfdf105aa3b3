/**
 * The platform with its public side on HTTPS (`tls internal`, a test domain that resolves
 * nowhere), deployed on the real Docker host by the real engine (`pulumi up` through the
 * Automation API, `EngineStack`): what the HTTPS proof runs. Clients reach it at 127.0.0.1 with
 * the domain as TLS name and Host (`httpsGetPinned`, curl `--resolve`), no DNS.
 */
import * as tls from "node:tls";
import { readInternalRoot } from "../../../lib/proxy/root";
import { EngineRun, EngineStack } from "./engineStack";
import { Cleanup, freePort } from "./run";

export const TEST_DOMAIN = "cartie.test";

export interface HttpsStack {
    domain: string;
    /** Free ports on 127.0.0.1 standing in for 443 and 80 (`cartie:httpsPort`, `cartie:httpPort`). */
    httpsPort: number;
    httpPort: number;
    /** The root of the proxy's internal CA, read from the proxy (PEM). */
    rootCaPem: string;
    /**
     * Removes everything this stack created: `EngineStack.remove()` takes its containers, network,
     * image tags, folders and every volume named with its prefix, so the two Caddy volumes too
     * (they are `protect`ed and `retainOnDelete`: no `pulumi destroy` would).
     */
    cleanup: () => Promise<void>;
    stack: EngineStack;
    /** The Docker name of the proxy container after the first `pulumi up` (fixed: `<prefix>-proxy`). */
    proxy: string;
    /** The first `pulumi up`, the one that switched the stack to HTTPS. */
    firstUp: EngineRun;
}

/**
 * The stack config of an HTTPS stack on these ports. By default publicUrl is `https://cartie.test`
 * (port 443), so the web image's VITE_API_BASE_URL, and the cached image, are the same every run;
 * a browser then reaches the site as https://cartie.test/ with Chromium's
 * `--host-resolver-rules="MAP cartie.test:443 127.0.0.1:<httpsPort>"`. `derivedUrl` leaves publicUrl
 * to the program (`https://cartie.test:<httpsPort>`, a web build per port).
 */
export function httpsConfig(httpPort: number, httpsPort: number, opts: { derivedUrl?: boolean } = {}): Record<string, string> {
    return {
        "cartie:domain": TEST_DOMAIN,
        "cartie:tls": "internal",
        "cartie:httpPort": String(httpPort),
        "cartie:httpsPort": String(httpsPort),
        ...(opts.derivedUrl ? {} : { "cartie:publicUrl": `https://${TEST_DOMAIN}` }),
    };
}

/** Creates an HTTPS stack and runs `pulumi up` on it (the release and the HTTPS verification run in it). */
export async function startHttpsStack(opts: { derivedUrl?: boolean } = {}): Promise<HttpsStack> {
    const cleanup = new Cleanup();
    try {
        const [httpPort, httpsPort] = [await freePort(), await freePort()];
        if (httpPort === httpsPort) throw new Error(`freePort gave ${httpPort} twice`);
        const stack = await EngineStack.create(cleanup, { config: httpsConfig(httpPort, httpsPort, opts) });
        // EngineStack sets a fixed plain-HTTP publicUrl; a derived one is the program's, from the domain and httpsPort.
        if (opts.derivedUrl) await stack.removeConfig(["cartie:publicUrl"]);
        const firstUp = await stack.up();
        const proxy = await stack.containerName("proxy");
        const rootCaPem = await readInternalRoot(proxy);
        return { domain: TEST_DOMAIN, httpPort, httpsPort, rootCaPem, cleanup: () => cleanup.run(), stack, proxy, firstUp };
    } catch (err) {
        await cleanup.run();
        throw err;
    }
}

export interface HttpsAnswer {
    status: number;
    headers: Record<string, string | string[] | undefined>;
    body: string;
    /** The certificate the proxy served, and whether it chains to the trusted roots given. */
    certificate: tls.PeerCertificate;
    authorized: boolean;
    authorizationError?: string;
}

/** GET over HTTPS to 127.0.0.1 with `domain` as TLS name and Host, trusting `ca` only. */
export async function httpsGetPinned(domain: string, port: number, path: string, ca: string): Promise<HttpsAnswer> {
    const https = await import("node:https");
    return new Promise((resolve, reject) => {
        const req = https.request(
            { host: "127.0.0.1", port, path, servername: domain, headers: { host: `${domain}:${port}` }, ca, agent: false, timeout: 10_000 },
            (res) => {
                let body = "";
                res.on("data", (d: Buffer) => (body += d.toString()));
                res.on("end", () => {
                    const socket = res.socket as tls.TLSSocket;
                    resolve({ status: res.statusCode ?? 0, headers: res.headers, body, certificate: socket.getPeerCertificate(), authorized: socket.authorized, authorizationError: socket.authorizationError?.message });
                });
            },
        );
        req.on("timeout", () => req.destroy(new Error("timeout")));
        req.on("error", reject);
        req.end();
    });
}
