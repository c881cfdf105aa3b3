/**
 * The platform with its public side on HTTPS (`tls internal`, a test domain that resolves
 * nowhere), deployed on the real Docker host from the program's registered inputs through the
 * engine stand-in: shared by the HTTPS proof and the headless-browser case. Clients reach it at
 * 127.0.0.1 with the domain as TLS name and Host (`httpsGetPinned`, curl `--resolve`), no DNS.
 */
import * as tls from "node:tls";
import { readInternalRoot } from "../../../lib/proxy/root";
import { DeployStack } from "./deployStack";
import { UpResult } from "./engine";
import { Cleanup, docker, freePort } from "./run";

export const TEST_DOMAIN = "cartie.test";

export interface HttpsStack {
    domain: string;
    httpsPort: number;
    httpPort: number;
    /** The root of the proxy's internal CA, read from the proxy (PEM). */
    rootCaPem: string;
    /** Removes everything this stack created (containers, network, volumes, its image tags and folders). */
    cleanup: () => Promise<void>;
    stack: DeployStack;
    /** Stack config the stack was deployed with (evaluate the program again with it to get the same inputs). */
    config: Record<string, string>;
    firstUp: UpResult;
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

/** Brings the HTTPS stack up (`pulumi up` through the engine stand-in: the release and the HTTPS verification run). */
export async function startHttpsStack(opts: { derivedUrl?: boolean } = {}): Promise<HttpsStack> {
    const cleanup = new Cleanup();
    try {
        const [httpPort, httpsPort] = [await freePort(), await freePort()];
        const stack = await DeployStack.create(cleanup);
        // DeployStack removes the db's volume; Caddy's two are this stack's too (removed after the containers: LIFO).
        const volumes = [`${stack.prefix}-caddy-data`, `${stack.prefix}-caddy-config`];
        cleanup.add("caddy volumes", async () => {
            await docker(["rm", "-f", `${stack.prefix}-proxy`]);
            await docker(["volume", "rm", "-f", ...volumes]);
        });
        const config = httpsConfig(httpPort, httpsPort, opts);
        const firstUp = await stack.engine.up(await stack.evaluate("v1", config));
        const rootCaPem = await readInternalRoot(stack.container("proxy"));
        return { domain: TEST_DOMAIN, httpPort, httpsPort, rootCaPem, cleanup: () => cleanup.run(), stack, config, firstUp };
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
