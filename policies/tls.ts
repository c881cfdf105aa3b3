import { ResourceValidationPolicy } from "@pulumi/policy";
import { isLoopback } from "../lib/config/tls";
import { LABELS } from "../lib/docker/labels";
import { Finding, Props, TYPES, asArray, asString, isRecord, isUnknownValueError, rule } from "./util";

/** One published port as the rule needs it; `ip` undefined or "" is Docker's default: every interface. */
export interface PublishedPort {
    internal?: number;
    external?: number;
    ip?: string;
}

/** What the rule reads from a container; a field is undefined when it cannot be known during preview. */
export interface ProxyView {
    /** The container's labels, undefined when unknown during preview. */
    labels?: Record<string, string | undefined>;
    ports?: PublishedPort[];
}

export interface HttpsConfig {
    /** The port Caddy serves HTTPS on inside the container when the proxy's https-port label does not say: 443 by default. */
    httpsPort: number;
}

const TLS_ON = new Set(["acme", "internal"]);


function describe(p: PublishedPort): string {
    const ip = p.ip === undefined || p.ip.trim() === "" ? "every interface" : p.ip.trim();
    return `${ip}:${p.external ?? "<random>"}->${p.internal ?? "?"}`;
}

/**
 * Whether a proxy reachable from other hosts serves HTTPS: TLS on (label `tls` acme or internal)
 * with the HTTPS port published, or the stack saying what terminates TLS in front of it (label
 * `tlsTerminatedBy`). Containers that are not the proxy, proxies published on loopback only, and
 * values unknown during preview (the update checks them again, known) pass.
 */
export function httpsFindings(view: ProxyView, config: HttpsConfig): Finding[] {
    if (view.labels === undefined || view.ports === undefined) return [];
    if (view.labels[LABELS.component] !== "proxy") return [];
    const exposed = view.ports.filter((p) => !isLoopback(p.ip));
    if (exposed.length === 0) return [];
    const terminatedBy = view.labels[LABELS.tlsTerminatedBy]?.trim();
    if (terminatedBy) return [];
    const tls = view.labels[LABELS.tls]?.trim();
    const where = exposed.map(describe).join(", ");
    const fix =
        "give the stack its public name, `pulumi config set cartie:domain <name>` (HTTPS with Let's Encrypt; `cartie:tls internal` for staging), " +
        "or say what terminates TLS in front of the proxy, `pulumi config set cartie:tlsTerminatedBy <lb>`; a proxy for this host only binds 127.0.0.1 (`cartie:publicBind`)";
    if (tls !== undefined && TLS_ON.has(tls)) {
        const httpsPort = labelPort(view.labels, LABELS.httpsPort) ?? config.httpsPort;
        if (view.ports.some((p) => p.internal === httpsPort)) return [];
        return [
            {
                problem: `has TLS on (${tls}) and is published on ${where}, but does not publish its HTTPS port ${httpsPort}, so users reach it over plain HTTP only`,
                fix: `publish container port ${httpsPort} (\`cartie:httpsPort\`), or ${fix}`,
            },
        ];
    }
    return [
        {
            problem: `is published on ${where}, reachable from other hosts, but serves plain HTTP (${tls ? `tls "${tls}"` : "no tls label"}), so passwords and tokens travel in clear text`,
            fix,
        },
    ];
}

const portNumber = (v: unknown): number | undefined => (typeof v === "number" ? v : typeof v === "string" && /^\d+$/.test(v) ? Number(v) : undefined);

/** A port the proxy's labels state (the program sets http-port and https-port with TLS on); undefined when absent. */
export function labelPort(labels: Record<string, string | undefined> | undefined, label: string): number | undefined {
    return portNumber(labels?.[label]);
}

/**
 * The container's inputs as `httpsFindings` reads them; empty when any of them is unknown during
 * preview (a label or a port the rule needs could go either way, so it waits for the update).
 */
export function proxyView(props: Props): ProxyView {
    try {
        const labels: Record<string, string | undefined> = {};
        for (const l of asArray(props.labels)) {
            if (isRecord(l) && typeof l.label === "string") labels[l.label] = asString(l.value);
        }
        const ports: PublishedPort[] = asArray(props.ports)
            .filter(isRecord)
            .map((p) => ({ internal: portNumber(p.internal), external: portNumber(p.external), ip: asString(p.ip) }));
        return { labels, ports };
    } catch (e) {
        if (isUnknownValueError(e)) return {};
        throw e;
    }
}

export const publicProxyServesHttps: ResourceValidationPolicy = rule<HttpsConfig>({
    name: "public-proxy-serves-https",
    description:
        "A proxy published on a non-loopback address serves HTTPS (tls acme or internal, with its HTTPS port published), or the stack names what terminates TLS in front of it (cartie:tlsTerminatedBy).",
    config: {
        httpsPort: { schema: { type: "integer", description: "Port Caddy serves HTTPS on inside the proxy container when its https-port label does not say" }, default: 443 },
    },
    types: [TYPES.container],
    check(props: Props, _args, config): Finding[] {
        return httpsFindings(proxyView(props), config);
    },
});
