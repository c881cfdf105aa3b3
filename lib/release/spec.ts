import { HttpsSite, RoutedPorts } from "../proxy/caddyfile";
import { ROLES, Role, RoleContainers } from "../routes/names";

export { ROLES };
export type { Role };

export const PROXY_CADDYFILE_PATH = "/etc/caddy/Caddyfile";
/** The candidate listener inside the proxy container (loopback only, never published). */
export const CANDIDATE_PORT = 8081;

/**
 * Everything the release step needs, as the Release resource passes it (one JSON environment
 * variable, so preview shows a release as the containers it routes to and a routing change as a
 * readable diff). No secrets: names, ports, paths.
 */
export interface ReleaseSpec {
    proxyContainer: string;
    /** The routes responder (cartie:platform:Routes) whose records the release rewrites. */
    routesContainer: string;
    /** The platform network: where the proxy reaches each container (its address there is what Caddy counts requests by). */
    network: string;
    /** The containers this release routes to. */
    desired: RoleContainers;
    /** The port each app listens on in its container. */
    ports: RoutedPorts;
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
        if (typeof spec.ports?.[role] !== "number") throw new Error(`CARTIE_RELEASE_SPEC has no ports.${role}`);
    }
    for (const key of ["proxyContainer", "routesContainer", "network"] as const) {
        if (typeof spec[key] !== "string" || spec[key] === "") throw new Error(`CARTIE_RELEASE_SPEC has no ${key}`);
    }
    return spec;
}
