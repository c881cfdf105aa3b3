import { isIPv4, isIPv6 } from "node:net";
import { z } from "zod";
import type { HttpsSite } from "../proxy/caddyfile";
import type { ConfigProblem } from "./problem";

/**
 * How the proxy serves its public side: `cartie:domain`, `cartie:tls`, `cartie:acmeEmail`,
 * `cartie:tlsTerminatedBy`, `cartie:httpPort`, `cartie:httpsPort`. Pure, like the rest of the
 * contract; `validateConfig` calls it and lists its problems with every other one.
 */

export const TLS_MODES = ["acme", "internal", "off"] as const;
export type TlsMode = (typeof TLS_MODES)[number];

export interface TlsSettings {
    /** `acme`: certificates from Let's Encrypt (or ZeroSSL); `internal`: Caddy's own CA; `off`: plain HTTP on publicPort. */
    mode: TlsMode;
    /** Host names the public site answers for; the first is the canonical one (publicUrl). */
    domains: string[];
    acmeEmail?: string;
    /** What terminates TLS in front of a plain-HTTP proxy (a load balancer), when the stack says so. */
    terminatedBy?: string;
    /** Host and container ports of the HTTP and HTTPS listeners when TLS is on (Caddy's http_port/https_port). */
    httpPort: number;
    httpsPort: number;
}

export const TLS_DEFAULTS = { httpPort: 80, httpsPort: 443 } as const;

/** Ports the proxy container already uses for itself (the candidate listener and Caddy's admin API). */
const RESERVED_PORTS: Record<number, string> = { 8081: "the release's candidate listener", 2019: "Caddy's admin API" };

/** A DNS host name (RFC 1123 labels), lowercase; no wildcard, no port, no scheme. */
const HOST_NAME = /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/;
/** Shows in a Docker label and in preview: a short name, not a sentence. */
const TERMINATOR = /^[A-Za-z0-9][A-Za-z0-9 ._:/-]{0,62}$/;

const isIp = (v: string): boolean => z.ipv4().safeParse(v).success || z.ipv6().safeParse(v.replace(/^\[|\]$/g, "")).success;

/** Whether an address the proxy is published on reaches only this host. */
/**
 * Whether an address reaches only this host (127.0.0.0/8, ::1, also written IPv4-mapped or in
 * brackets). Undefined or "" is Docker's default for a published port, every interface: not loopback.
 * One answer for the config check and the policy pack, so they never disagree on what is public.
 */
export function isLoopback(ip: string | undefined): boolean {
    const bare = (ip ?? "").trim().replace(/^\[|\]$/g, "");
    if (isIPv4(bare)) return bare.startsWith("127.");
    if (!isIPv6(bare)) return bare === "localhost";
    // The URL parser writes an IPv6 address in its one compressed form (::1, ::ffff:7f00:1).
    const host = new URL(`http://[${bare}]/`).hostname;
    return host === "[::1]" || /^\[::ffff:7f[0-9a-f]{2}:[0-9a-f]{1,4}\]$/.test(host);
}

export function tlsOn(tls: Pick<TlsSettings, "mode">): boolean {
    return tls.mode !== "off";
}

/** The proxy's HTTPS site for these settings, or undefined when the proxy serves plain HTTP. */
export function httpsSiteOf(tls: TlsSettings): HttpsSite | undefined {
    if (tls.mode === "off" || tls.domains.length === 0) return undefined;
    return { domains: tls.domains, issuer: tls.mode, ...(tls.acmeEmail ? { acmeEmail: tls.acmeEmail } : {}), httpPort: tls.httpPort, httpsPort: tls.httpsPort };
}

/** `https://<first domain>` with the port when it is not 443: the URL users type. */
export function httpsUrl(tls: Pick<TlsSettings, "domains" | "httpsPort">): string {
    return `https://${tls.domains[0]}${tls.httpsPort === 443 ? "" : `:${tls.httpsPort}`}`;
}

/**
 * The URL users reach when `cartie:publicUrl` is unset and a domain is: HTTPS served by the proxy,
 * or by what terminates TLS in front of it; undefined keeps the plain-HTTP default.
 */
export function derivedPublicUrl(tls: TlsSettings): string | undefined {
    if (tls.domains.length === 0) return undefined;
    if (tlsOn(tls)) return httpsUrl(tls);
    return tls.terminatedBy ? `https://${tls.domains[0]}` : undefined;
}

/** `a.example.org, b.example.org` or `a b` → the names, lowercased, without a trailing dot, de-duplicated. */
export function splitDomains(raw: string): string[] {
    const names = raw
        .split(/[\s,]+/)
        .map((d) => d.trim().toLowerCase().replace(/\.$/, ""))
        .filter(Boolean);
    return [...new Set(names)];
}

type Str = (key: TlsKey) => string | undefined;
export type TlsKey = "domain" | "tls" | "acmeEmail" | "tlsTerminatedBy" | "httpPort" | "httpsPort";

const set = (key: string, value: string): string => `\`pulumi config set cartie:${key} ${value}\``;

/**
 * Parses the TLS keys and checks them against each other and against `publicBind`. Every invalid
 * combination is a problem with its fix, pushed onto `problems` with the rest of the config's.
 */
export function parseTls(str: Str, publicBind: string, problems: ConfigProblem[]): TlsSettings {
    const problem = (key: TlsKey, what: string, fix: string): void => {
        problems.push({ key, problem: what, fix });
    };

    const domainRaw = str("domain")?.trim() ?? "";
    const domains = splitDomains(domainRaw);
    const badNames = domains.filter((d) => !isIp(d) && !HOST_NAME.test(d));
    if (badNames.length > 0) {
        problem("domain", `${badNames.map((d) => `"${d}"`).join(", ")} ${badNames.length === 1 ? "is not a host name" : "are not host names"} (letters, digits, - and dots; no scheme, port, path or wildcard)`, `${set("domain", "'cartie.example.org'")} (several: comma-separated)`);
    }

    const modeRaw = str("tls")?.trim().toLowerCase();
    let mode: TlsMode = domains.length > 0 ? "acme" : "off";
    if (modeRaw !== undefined) {
        if ((TLS_MODES as readonly string[]).includes(modeRaw)) mode = modeRaw as TlsMode;
        else problem("tls", `"${str("tls")}" is not one of acme, internal, off`, `${set("tls", "acme")} (a public domain), internal (Caddy's own CA, for staging and tests) or off (plain HTTP)`);
    }

    const acmeEmailRaw = str("acmeEmail")?.trim();
    const acmeEmail = acmeEmailRaw === "" ? undefined : acmeEmailRaw;
    if (acmeEmail !== undefined && !z.email().safeParse(acmeEmail).success) {
        problem("acmeEmail", `"${acmeEmail}" is not an email address`, `${set("acmeEmail", "'ops@example.org'")} (the CA writes there before a certificate expires)`);
    }

    const terminatedRaw = str("tlsTerminatedBy")?.trim();
    const terminatedBy = terminatedRaw === "" ? undefined : terminatedRaw;
    if (terminatedBy !== undefined && !TERMINATOR.test(terminatedBy)) {
        problem("tlsTerminatedBy", `"${terminatedBy}" is not a short name of what terminates TLS (letters, digits, space, . _ : / -; at most 63)`, set("tlsTerminatedBy", "hetzner-lb"));
    }

    const port = (key: "httpPort" | "httpsPort"): number => {
        const raw = str(key);
        if (raw === undefined) return TLS_DEFAULTS[key];
        const parsed = z.coerce.number().int().min(1).max(65535).safeParse(raw.trim() === "" ? NaN : raw);
        if (!parsed.success) {
            problem(key, `"${raw}" is not a port number between 1 and 65535`, set(key, String(TLS_DEFAULTS[key])));
            return TLS_DEFAULTS[key];
        }
        const reserved = RESERVED_PORTS[parsed.data];
        if (reserved) problem(key, `${parsed.data} is ${reserved} inside the proxy container`, set(key, String(TLS_DEFAULTS[key])));
        return parsed.data;
    };
    const httpPort = port("httpPort");
    const httpsPort = port("httpsPort");
    if (httpPort === httpsPort) problem("httpsPort", `httpPort and httpsPort are both ${httpPort}`, `${set("httpPort", "80")} and ${set("httpsPort", "443")}`);

    const tls: TlsSettings = { mode, domains, acmeEmail, terminatedBy, httpPort, httpsPort };
    if (badNames.length > 0 || modeRaw !== undefined && !(TLS_MODES as readonly string[]).includes(modeRaw)) return tls;

    // The combinations that cannot work, or would serve passwords in clear text to the internet.
    if (tlsOn(tls) && domains.length === 0) {
        problem("tls", `is ${mode} but no cartie:domain is set (a certificate is issued for a host name)`, `${set("domain", "'cartie.example.org'")}, or ${set("tls", "off")}`);
    }
    if (mode === "acme" && domains.length > 0) {
        if (isLoopback(publicBind)) {
            problem("tls", `is acme with publicBind ${publicBind}: the CA cannot reach the proxy to validate ${domains.join(", ")}`, `${set("publicBind", "0.0.0.0")} for a public host, or ${set("tls", "internal")} for a stack only this host reaches`);
        }
        const ips = domains.filter(isIp);
        if (ips.length > 0) {
            problem("domain", `${ips.join(", ")} ${ips.length === 1 ? "is an IP address" : "are IP addresses"}: ACME CAs issue certificates for host names only`, `point a DNS A/AAAA record at the host and ${set("domain", "'cartie.example.org'")}, or ${set("tls", "internal")}`);
        }
        if (httpPort !== 80 || httpsPort !== 443) {
            problem("tls", `is acme with httpPort ${httpPort} and httpsPort ${httpsPort}: the CA validates on ports 80 and 443 only`, `\`pulumi config rm cartie:httpPort\` and \`pulumi config rm cartie:httpsPort\` (80 and 443), or ${set("tls", "internal")}`);
        }
    }
    if (mode === "off" && domains.length > 0 && !isLoopback(publicBind) && terminatedBy === undefined) {
        problem("tls", `is off for ${domains.join(", ")} published on ${publicBind}: passwords and tokens would cross the network in clear text`, `\`pulumi config rm cartie:tls\` (acme), or, when a load balancer in front terminates TLS, ${set("tlsTerminatedBy", "'<its name, e.g. hetzner-lb>'")}`);
    }
    return tls;
}

/** With TLS on, a browser loads the page over HTTPS and blocks an `http://` api URL baked into the bundle (mixed content). */
export function tlsUrlProblems(tls: TlsSettings, urls: { publicUrl: string; apiBaseUrl: string }, problems: ConfigProblem[]): void {
    if (!tlsOn(tls) || tls.domains.length === 0) return;
    const plain = (url: string): boolean => /^http:\/\//i.test(url);
    for (const key of ["publicUrl", "apiBaseUrl"] as const) {
        if (!plain(urls[key])) continue;
        // An apiBaseUrl derived from an http:// publicUrl has the same cause: report it once.
        if (key === "apiBaseUrl" && plain(urls.publicUrl) && urls.apiBaseUrl.startsWith(urls.publicUrl)) continue;
        problems.push({
            key,
            problem: `"${urls[key]}" is http:// while the proxy serves HTTPS (tls ${tls.mode}): browsers block an http:// api called from an https:// page (mixed content)`,
            fix: `\`pulumi config rm cartie:${key}\` (derived: ${key === "publicUrl" ? httpsUrl(tls) : `${httpsUrl(tls)}/api`}) or set an https:// URL`,
        });
    }
}
