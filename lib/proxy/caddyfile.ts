/**
 * The proxy's Caddyfile, rendered from plain data so the same routes always give the same bytes.
 *
 * Two sites: the public listener users reach, and a candidate listener bound to the proxy
 * container's own loopback (never published, unreachable from other containers) where a release's
 * smoke check reaches the new containers through the very same routes before any user does.
 *
 * Neither names a container. Each route is a `dynamic a` upstream over a name the routes responder
 * answers (lib/routes/names.ts): `api.live.cartie.internal` for users, `api.candidate…` for the
 * smoke check. A release rewrites those records, so the config (and with it Caddy's servers and
 * every open connection) stays as it is; only a routing change (a path, a port, HTTPS, the access
 * log) is a new config. Docker's own DNS is not used for this: it answers for a running container
 * whatever its health, and an alias changes only by disconnecting a container, which cuts its
 * requests in flight.
 */
import { ROUTES_REFRESH_MS, ROUTES_RESOLVER, Role, Slot, routeName } from "../routes/names";

/** The port each app listens on inside its container, as the proxy dials it on the platform network. */
export interface RoutedPorts {
    api: number;
    web: number;
}

/**
 * The public side as an HTTPS site (`cartie:domain` with `cartie:tls` acme or internal). Caddy's
 * automatic HTTPS then obtains and renews the certificates and redirects HTTP to HTTPS (308).
 */
export interface HttpsSite {
    domains: string[];
    issuer: "acme" | "internal";
    /** The ACME account's email (`email` global option): the CA writes there before a certificate expires. */
    acmeEmail?: string;
    /** Caddy's http_port/https_port: the container ports, published as the same host ports, so redirects name the right one. */
    httpPort: number;
    httpsPort: number;
}

export interface CaddyfileOptions {
    /** Port Caddy listens on for users inside its container (the host's public port maps to it). */
    listenPort: number;
    /** Port of the candidate listener, on the container's loopback only. */
    candidatePort: number;
    /** The apps' ports: routes through the responder's names. Undefined on a proxy's bootstrap config (users get a 503 saying no release is routed yet). */
    routed?: RoutedPorts;
    /** Path prefix routed to the api. */
    apiPathPrefix?: string;
    /** Log every request through the public listener to the proxy's stdout (`docker logs`). */
    accessLog?: boolean;
    /** Serve users over HTTPS for these names instead of plain HTTP on `listenPort`. */
    https?: HttpsSite;
}

/** Where Caddy's admin API listens inside the proxy container (the healthcheck and the release use it). */
export const ADMIN_ADDRESS = "127.0.0.1:2019";
/** Caddy's data directory (certificates, keys, the ACME account, the internal CA) and config directory in the proxy container. */
export const CADDY_DATA_DIR = "/data";
export const CADDY_CONFIG_DIR = "/config";
/** The root of Caddy's internal CA (`tls internal`), what a client of such a site must trust. */
export const INTERNAL_ROOT_PATH = `${CADDY_DATA_DIR}/caddy/pki/authorities/local/root.crt`;
/** How long in-flight requests of a replaced config may run on after a reload. */
export const RELOAD_GRACE_SECONDS = 30;
/** Idle keep-alive to an upstream; the sample api keeps its own longer (65 s) so it never closes one Caddy reuses. */
export const UPSTREAM_KEEPALIVE_SECONDS = 30;

/** A host name or IP address Caddy takes as a site address as it is (no scheme, port, path, quote or brace). */
const SITE_NAME = /^[A-Za-z0-9.:-]+$/;
const EMAIL = /^[^\s"{}]+@[^\s"{}]+$/;

/** One year, without includeSubDomains or preload: those bind every subdomain and cannot be taken back quickly. */
export const HSTS_VALUE = "max-age=31536000";

function checkPort(name: string, port: number): void {
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`renderCaddyfile: ${name} ${port} is not a port`);
}

function reverseProxy(role: Role, slot: Slot, port: number): string[] {
    return [
        "\t\treverse_proxy {",
        `\t\t\tdynamic a ${routeName(role, slot)} ${port} {`,
        `\t\t\t\tresolvers ${ROUTES_RESOLVER}`,
        `\t\t\t\trefresh ${ROUTES_REFRESH_MS}ms`,
        "\t\t\t\tdial_timeout 1s",
        "\t\t\t}",
        // A refused connection (a container gone mid-request) is retried for a moment instead of a 502.
        "\t\t\tlb_try_duration 2s",
        "\t\t\ttransport http {",
        `\t\t\t\tkeepalive ${UPSTREAM_KEEPALIVE_SECONDS}s`,
        "\t\t\t}",
        "\t\t}",
    ];
}

function routes(prefix: string, slot: Slot, ports: RoutedPorts | undefined): string[] {
    if (!ports) return ['\trespond "Cartie: no release is routed yet; `pulumi up` routes one as soon as it is healthy." 503'];
    return [`\t@api path ${prefix} ${prefix}/*`, "\thandle @api {", ...reverseProxy("api", slot, ports.api), "\t}", "\thandle {", ...reverseProxy("web", slot, ports.web), "\t}"];
}

function checkHttps(site: HttpsSite | undefined, candidatePort: number): void {
    if (!site) return;
    if (site.domains.length === 0) throw new Error("renderCaddyfile: https needs at least one domain");
    for (const d of site.domains) if (!SITE_NAME.test(d)) throw new Error(`renderCaddyfile: "${d}" is not a site name`);
    if (site.acmeEmail !== undefined && !EMAIL.test(site.acmeEmail)) throw new Error(`renderCaddyfile: "${site.acmeEmail}" is not an email`);
    checkPort("httpPort", site.httpPort);
    checkPort("httpsPort", site.httpsPort);
    if (new Set([site.httpPort, site.httpsPort, candidatePort]).size !== 3) throw new Error("renderCaddyfile: httpPort, httpsPort and candidatePort must differ");
}

/** Global options: plain HTTP switches automatic HTTPS off; an HTTPS site keeps it and names its ports. */
function globalOptions(site: HttpsSite | undefined): string[] {
    if (!site) return ["\tauto_https off"];
    return [
        `\thttp_port ${site.httpPort}`,
        `\thttps_port ${site.httpsPort}`,
        ...(site.issuer === "acme" && site.acmeEmail ? [`\temail ${site.acmeEmail}`] : []),
        // The internal CA's root stays in the data volume; installing it into the container's own trust store helps nobody.
        ...(site.issuer === "internal" ? ["\tskip_install_trust"] : []),
    ];
}

function publicSite(opts: CaddyfileOptions, prefix: string): string[] {
    const site = opts.https;
    if (!site) return ["# Users: the live release.", `:${opts.listenPort} {`, ...(opts.accessLog ? ["\tlog"] : []), ...routes(prefix, "live", opts.routed), "}"];
    return [
        `# Users: the live release over HTTPS (${site.issuer === "internal" ? "Caddy's internal CA" : "ACME"}); HTTP redirects here.`,
        `${site.domains.join(", ")} {`,
        ...(site.issuer === "internal" ? ["\ttls internal"] : []),
        `\theader Strict-Transport-Security "${HSTS_VALUE}"`,
        ...(opts.accessLog ? ["\tlog"] : []),
        ...routes(prefix, "live", opts.routed),
        "}",
        ...portedRedirect(site),
    ];
}

/**
 * Caddy's automatic HTTP→HTTPS redirect (308) leaves the port out when it is `https_port`, taking
 * that for a container port behind 443; here the HTTPS port is published as itself, so a stack on
 * another port gets the same 308 with its port named. On 443 Caddy's own redirect is right.
 */
function portedRedirect(site: HttpsSite): string[] {
    if (site.httpsPort === 443) return [];
    return [
        "",
        `# HTTP to HTTPS on port ${site.httpsPort} (Caddy's own redirect would name 443).`,
        `${site.domains.map((d) => `http://${d}`).join(", ")} {`,
        `\tredir https://{host}:${site.httpsPort}{uri} 308`,
        "}",
    ];
}

export function renderCaddyfile(opts: CaddyfileOptions): string {
    const prefix = (opts.apiPathPrefix ?? "/api").replace(/\/+$/, "");
    checkPort("listenPort", opts.listenPort);
    checkPort("candidatePort", opts.candidatePort);
    if (opts.listenPort === opts.candidatePort) throw new Error(`renderCaddyfile: listenPort and candidatePort are both ${opts.listenPort}`);
    if (opts.routed) for (const role of ["api", "web"] as const) checkPort(`routed.${role}`, opts.routed[role]);
    checkHttps(opts.https, opts.candidatePort);
    return [
        "# Rendered by the cartie-platform Pulumi program and loaded by its release step (scripts/release.ts);",
        "# edits here are overwritten by the next `pulumi up`.",
        "{",
        // IPv4 loopback: the proxy's healthcheck and the release step reach the admin API from inside the container.
        `\tadmin ${ADMIN_ADDRESS}`,
        ...globalOptions(opts.https),
        `\tgrace_period ${RELOAD_GRACE_SECONDS}s`,
        "}",
        "",
        ...publicSite(opts, prefix),
        "",
        "# The release's smoke check only: the proxy container's loopback, never published.",
        `:${opts.candidatePort} {`,
        "\tbind 127.0.0.1",
        ...routes(prefix, "candidate", opts.routed),
        "}",
        "",
    ].join("\n");
}
