import { ResourceValidationPolicy } from "@pulumi/policy";
import { PROXY_PORT } from "../lib/env";
import { LABELS } from "../lib/docker/labels";
import { labelPort, proxyView } from "./tls";
import { Finding, Props, TYPES, asArray, isRecord, known, rule } from "./util";

interface NetworkConfig {
    proxyContainer: string;
    proxyInternalPort: number;
    /** The stack's `cartie:publicPort`, when the pack should hold the proxy to it. */
    publicPort?: number;
    /** The stack's `cartie:publicBind`; only when it is set may the proxy listen on every interface. */
    publicBind?: string;
    /** With TLS on, when the proxy's http-port/https-port labels do not say: its HTTP and HTTPS ports (host and container port alike). */
    httpPort: number;
    httpsPort: number;
}

const ALL_INTERFACES = new Set(["", "0.0.0.0", "::", "[::]"]);

function describePort(p: Record<string, unknown>): string {
    const ip = typeof p.ip === "string" && p.ip !== "" ? `${p.ip}:` : "";
    const port = (v: unknown): string => (typeof v === "number" || typeof v === "string" ? String(v) : "<random>");
    return `${ip}${port(p.external)}->${port(p.internal)}`;
}

export const onlyTheProxyIsPublic: ResourceValidationPolicy = rule<NetworkConfig>({
    name: "only-the-proxy-is-public",
    description:
        "db, api and web publish no host ports; the proxy publishes exactly one port, the configured public port (with TLS on: its HTTP and HTTPS ports), on an explicit bind address (Docker's default is every interface).",
    config: {
        proxyContainer: { schema: { type: "string", description: "Resource name of the proxy container" }, default: "proxy" },
        proxyInternalPort: { schema: { type: "integer", description: "Port the proxy listens on inside its container" }, default: PROXY_PORT },
        publicPort: { schema: { type: "integer", description: "The stack's cartie:publicPort; unset: any one explicit port" }, default: undefined },
        publicBind: {
            schema: { type: "string", description: "The stack's cartie:publicBind; unset: any explicit address but every interface" },
            default: undefined,
        },
        httpPort: { schema: { type: "integer", description: "With TLS on, when the proxy's http-port label does not say: its HTTP port" }, default: 80 },
        httpsPort: { schema: { type: "integer", description: "With TLS on, when the proxy's https-port label does not say: its HTTPS port" }, default: 443 },
    },
    types: [TYPES.container],
    check(props: Props, args, config): Finding[] {
        const ports = asArray(known(() => props.ports)).filter(isRecord);
        if (args.name !== config.proxyContainer) {
            if (ports.length === 0) return [];
            return [
                {
                    problem: `publishes host port${ports.length > 1 ? "s" : ""} ${ports.map(describePort).join(", ")}, but only the proxy may be reachable from outside`,
                    fix: `remove \`ports\` from this container; other containers reach it by its alias on the platform network, and users through the proxy`,
                },
            ];
        }
        const findings: Finding[] = [];
        // With TLS on (the proxy's tls label) Caddy listens on its HTTP port (redirects, ACME challenges) and its HTTPS port.
        const labels = proxyView(props).labels;
        const tls = labels?.[LABELS.tls];
        const tlsOn = tls === "acme" || tls === "internal";
        const listeners = tlsOn
            ? [labelPort(labels, LABELS.httpPort) ?? config.httpPort, labelPort(labels, LABELS.httpsPort) ?? config.httpsPort]
            : [config.proxyInternalPort];
        const bind = config.publicBind ? `"${config.publicBind}"` : "cartie:publicBind";
        const expected = tlsOn
            ? listeners.map((l) => `{ internal: ${l}, external: ${l}, ip: ${bind} }`).join(" and ")
            : `{ internal: ${config.proxyInternalPort}, external: ${config.publicPort ?? "cartie:publicPort"}, ip: ${bind} }`;
        if (ports.length !== listeners.length) {
            return [
                {
                    problem: `publishes ${ports.length} ports (${ports.map(describePort).join(", ") || "none"}) instead of exactly ${tlsOn ? `two (HTTP and HTTPS, tls ${tls})` : "one"}`,
                    fix: `publish exactly ${expected}`,
                },
            ];
        }
        for (const p of ports) {
            if (typeof p.internal !== "number" || !listeners.includes(p.internal)) {
                findings.push({ problem: `publishes container port ${describePort(p)}, but Caddy listens on ${listeners.join(" and ")}`, fix: `publish ${expected}` });
            }
            if (typeof p.external !== "number") {
                findings.push({ problem: "publishes no fixed host port, so Docker picks a random one", fix: `set external to the configured public port: ${expected}` });
            } else if (!tlsOn && config.publicPort !== undefined && p.external !== config.publicPort) {
                findings.push({ problem: `publishes host port ${p.external}, not the configured public port ${config.publicPort}`, fix: `publish ${expected}` });
            }
            const ip = typeof p.ip === "string" ? p.ip.trim() : "";
            if (config.publicBind !== undefined) {
                if (ip !== config.publicBind) {
                    findings.push({
                        problem: `binds to ${ip === "" ? "every interface (no ip given)" : ip}, not the configured address ${config.publicBind}`,
                        fix: `set ip: "${config.publicBind}" on the port`,
                    });
                }
            } else if (ALL_INTERFACES.has(ip)) {
                findings.push({
                    problem: `binds to every interface (${ip === "" ? "no ip given: Docker's default" : ip})`,
                    fix: "set ip to the configured cartie:publicBind (default 127.0.0.1); to really listen on every interface, also set publicBind in this policy's config",
                });
            }
        }
        return findings;
    },
});
