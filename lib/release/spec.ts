import { HttpsSite, Upstreams } from "../proxy/caddyfile";

/** Where the proxy keeps the routes it serves, next to its Caddyfile: it survives a container restart. */
export const LIVE_ROUTES_PATH = "/etc/caddy/cartie-live.json";
export const PROXY_CADDYFILE_PATH = "/etc/caddy/Caddyfile";
/** The candidate listener inside the proxy container (loopback only, never published). */
export const CANDIDATE_PORT = 8081;

export type Role = keyof Upstreams;
export const ROLES: readonly Role[] = ["api", "web"];

/**
 * Everything the release step needs, as the Release resource passes it (one JSON environment
 * variable, so preview shows a routing change as a readable diff). No secrets: names, ports, paths.
 */
export interface ReleaseSpec {
    proxyContainer: string;
    /** The containers this release routes to, `name:port`. */
    desired: Upstreams;
    listenPort: number;
    candidatePort: number;
    apiPathPrefix: string;
    accessLog: boolean;
    /** The public HTTPS site, when TLS is on; absent for plain HTTP (so a plain stack's spec is unchanged). */
    https?: HttpsSite;
    /** Paths the smoke check GETs through the candidate listener; each must answer 200. */
    smokePaths: string[];
    /** Labels that find this stack's app containers (leftovers of earlier releases are retired). */
    labels: { project: string; stack: string };
    healthTimeoutSeconds: number;
    /** How long to wait for the old containers' in-flight requests to finish before stopping them. */
    drainTimeoutSeconds: number;
    /** `docker stop -t`: SIGTERM, then this long before SIGKILL. */
    stopGraceSeconds: number;
}

export function containerOf(upstream: string): string {
    return upstream.replace(/:\d+$/, "");
}

/** Reads the spec from the environment the Release resource sets; bad input is a clear error. */
export function parseReleaseSpec(json: string | undefined): ReleaseSpec {
    if (!json) throw new Error("CARTIE_RELEASE_SPEC is empty (it is set by the cartie:platform:Release resource)");
    let spec: ReleaseSpec;
    try {
        spec = JSON.parse(json) as ReleaseSpec;
    } catch (err) {
        throw new Error(`CARTIE_RELEASE_SPEC is not JSON: ${(err as Error).message}`);
    }
    for (const role of ROLES) {
        if (typeof spec.desired?.[role] !== "string") throw new Error(`CARTIE_RELEASE_SPEC has no desired.${role}`);
    }
    if (typeof spec.proxyContainer !== "string" || spec.proxyContainer === "") throw new Error("CARTIE_RELEASE_SPEC has no proxyContainer");
    return spec;
}

/** The routes a proxy file holds, or undefined for a proxy no release has routed yet (or a file it cannot trust). */
export function parseLiveRoutes(text: string | undefined): Upstreams | undefined {
    if (!text) return undefined;
    try {
        const v = JSON.parse(text) as Partial<Upstreams>;
        return typeof v.api === "string" && typeof v.web === "string" ? { api: v.api, web: v.web } : undefined;
    } catch {
        return undefined;
    }
}
