/**
 * The proxy's Caddyfile, rendered from plain data so the same routes always give the same bytes.
 *
 * Two sites: the public listener users reach, routed to the live release, and a candidate
 * listener bound to the proxy container's own loopback (never published, unreachable from other
 * containers) where a release's smoke check reaches the new containers through the very same
 * routes before any user does. Upstreams are container names, never a shared network alias:
 * Docker's DNS answers for a running container whatever its health, so an alias would hand
 * users a booting or broken container.
 */

/** `host:port` of each app, as the proxy dials it on the platform network. */
export interface Upstreams {
    api: string;
    web: string;
}

export interface CaddyfileOptions {
    /** Port Caddy listens on for users inside its container (the host's public port maps to it). */
    listenPort: number;
    /** Port of the candidate listener, on the container's loopback only. */
    candidatePort: number;
    /** What users reach; undefined on a proxy no release has routed yet (users get a 503 saying so). */
    live?: Upstreams;
    /** What the smoke check reaches; the live upstreams when no release is in progress. */
    candidate?: Upstreams;
    /** Path prefix routed to the api. */
    apiPathPrefix?: string;
    /** Log every request through the public listener to the proxy's stdout (`docker logs`). */
    accessLog?: boolean;
}

/** Where Caddy's admin API listens inside the proxy container (the healthcheck and the release use it). */
export const ADMIN_ADDRESS = "127.0.0.1:2019";
/** How long in-flight requests of a replaced config may run on after a reload. */
export const RELOAD_GRACE_SECONDS = 30;
/** Idle keep-alive to an upstream; the sample api keeps its own longer (65 s) so it never closes one Caddy reuses. */
export const UPSTREAM_KEEPALIVE_SECONDS = 30;

const UPSTREAM = /^[A-Za-z0-9_.-]+:\d{1,5}$/;

function checkPort(name: string, port: number): void {
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`renderCaddyfile: ${name} ${port} is not a port`);
}

function checkUpstreams(name: string, u: Upstreams | undefined): void {
    if (!u) return;
    for (const [role, value] of [["api", u.api], ["web", u.web]] as const) {
        if (!UPSTREAM.test(value)) throw new Error(`renderCaddyfile: ${name}.${role} "${value}" must be host:port`);
    }
}

function reverseProxy(upstream: string): string[] {
    return [
        `\t\treverse_proxy ${upstream} {`,
        // A refused connection (a container gone mid-request) is retried for a moment instead of a 502.
        "\t\t\tlb_try_duration 2s",
        "\t\t\ttransport http {",
        `\t\t\t\tkeepalive ${UPSTREAM_KEEPALIVE_SECONDS}s`,
        "\t\t\t}",
        "\t\t}",
    ];
}

function routes(prefix: string, u: Upstreams | undefined): string[] {
    if (!u) return ['\trespond "Cartie: no release is routed yet; `pulumi up` routes one as soon as it is healthy." 503'];
    return [`\t@api path ${prefix} ${prefix}/*`, "\thandle @api {", ...reverseProxy(u.api), "\t}", "\thandle {", ...reverseProxy(u.web), "\t}"];
}

export function renderCaddyfile(opts: CaddyfileOptions): string {
    const prefix = (opts.apiPathPrefix ?? "/api").replace(/\/+$/, "");
    checkPort("listenPort", opts.listenPort);
    checkPort("candidatePort", opts.candidatePort);
    if (opts.listenPort === opts.candidatePort) throw new Error(`renderCaddyfile: listenPort and candidatePort are both ${opts.listenPort}`);
    checkUpstreams("live", opts.live);
    checkUpstreams("candidate", opts.candidate);
    const candidate = opts.candidate ?? opts.live;
    return [
        "# Rendered by the cartie-platform Pulumi program and loaded by its release step (scripts/release.ts);",
        "# edits here are overwritten by the next `pulumi up`.",
        "{",
        // IPv4 loopback: the proxy's healthcheck and the release step reach the admin API from inside the container.
        `\tadmin ${ADMIN_ADDRESS}`,
        "\tauto_https off",
        `\tgrace_period ${RELOAD_GRACE_SECONDS}s`,
        "}",
        "",
        "# Users: the live release.",
        `:${opts.listenPort} {`,
        ...(opts.accessLog ? ["\tlog"] : []),
        ...routes(prefix, opts.live),
        "}",
        "",
        "# The release's smoke check only: the proxy container's loopback, never published.",
        `:${opts.candidatePort} {`,
        "\tbind 127.0.0.1",
        ...routes(prefix, candidate),
        "}",
        "",
    ].join("\n");
}
