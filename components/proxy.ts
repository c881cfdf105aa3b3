import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { ALIASES, PROXY_PORT } from "../lib/env";
import { TlsSettings } from "../lib/config";
import { BASELINE_DAEMON } from "../lib/docker/daemon";
import { healthcheckInput } from "../lib/docker/healthcheck";
import { LABELS, platformLabels } from "../lib/docker/labels";
import { CADDY_CONFIG_DIR, CADDY_DATA_DIR } from "../lib/proxy/caddyfile";
import { PROXY_CADDYFILE_PATH } from "../lib/release/spec";

export interface ProxyArgs {
    namePrefix: string;
    /** Pinned Caddy image reference. */
    image: string;
    network: pulumi.Input<string>;
    /**
     * The config a new proxy starts with: no routes (users get a 503 saying so) until the Release
     * step loads the live ones in place. Constant, so no release or routing change ever replaces
     * the proxy; only its image, port or healthcheck do.
     */
    bootstrapCaddyfile: string;
    publicPort: number;
    publicBind: string;
    /** HTTPS for a domain: ports httpPort/httpsPort instead of publicPort, and the certificate volumes. */
    tls: TlsSettings;
}

/** The proxy's published ports: plain HTTP on publicPort, or Caddy's HTTP and HTTPS ports as themselves (so its redirects name the right one). */
export function proxyPorts(args: Pick<ProxyArgs, "publicPort" | "publicBind" | "tls">): docker.types.input.ContainerPort[] {
    if (args.tls.mode === "off") return [{ internal: PROXY_PORT, external: args.publicPort, ip: args.publicBind, protocol: "tcp" }];
    return [args.tls.httpPort, args.tls.httpsPort].map((port) => ({ internal: port, external: port, ip: args.publicBind, protocol: "tcp" }));
}

/** What the proxy's labels tell preview, the policy pack and the doctor about its public side. */
export function tlsLabels(tls: TlsSettings): Record<string, string> {
    return {
        [LABELS.tls]: tls.mode,
        ...(tls.domains.length > 0 ? { [LABELS.domains]: tls.domains.join(",") } : {}),
        ...(tls.terminatedBy ? { [LABELS.tlsTerminatedBy]: tls.terminatedBy } : {}),
        ...(tls.mode !== "off" ? { [LABELS.httpPort]: String(tls.httpPort), [LABELS.httpsPort]: String(tls.httpsPort) } : {}),
    };
}

/** The Release step rewrites this file in the container after each load, so a restarted proxy comes back on the live routes. */
export const CADDYFILE_PATH = PROXY_CADDYFILE_PATH;

/**
 * Caddy: the platform's only published container, `/api/*` to the api and the rest to the web;
 * plain HTTP on publicPort, or with a domain HTTPS on httpsPort (HTTP on httpPort redirecting).
 */
export class Proxy extends pulumi.ComponentResource {
    readonly container: docker.Container;
    /** With TLS on: Caddy's data (certificates, keys, ACME account) and config directories, never deleted. */
    readonly dataVolume?: docker.Volume;
    readonly configVolume?: docker.Volume;

    constructor(name: string, args: ProxyArgs, opts?: pulumi.ComponentResourceOptions) {
        super("cartie:platform:Proxy", name, {}, opts);
        const project = pulumi.getProject();
        const stack = pulumi.getStack();
        // A proxy recreated without its certificates re-issues them on every start until the CA's
        // rate limits lock the domain out for days: keep them like the database's data.
        const keep = { parent: this, dependsOn: opts?.dependsOn, protect: true, retainOnDelete: true };
        const mounts: docker.types.input.ContainerMount[] = [];
        if (args.tls.mode !== "off") {
            this.dataVolume = new docker.Volume(`${name}-data`, { name: `${args.namePrefix}-caddy-data`, labels: platformLabels(project, stack, "proxy-data") }, keep);
            this.configVolume = new docker.Volume(`${name}-config`, { name: `${args.namePrefix}-caddy-config`, labels: platformLabels(project, stack, "proxy-config") }, keep);
            mounts.push({ type: "volume", source: this.dataVolume.name, target: CADDY_DATA_DIR }, { type: "volume", source: this.configVolume.name, target: CADDY_CONFIG_DIR });
        }
        const image = new docker.RemoteImage(`${name}-image`, { name: args.image, keepLocally: true }, { parent: this });
        this.container = new docker.Container(
            name,
            {
                name: `${args.namePrefix}-proxy`,
                image: image.imageId,
                command: ["caddy", "run", "--config", CADDYFILE_PATH, "--adapter", "caddyfile"],
                uploads: [{ file: CADDYFILE_PATH, content: args.bootstrapCaddyfile }],
                // Explicit, whatever the image sets: Caddy keeps its certificates under XDG_DATA_HOME.
                envs: [`XDG_CONFIG_HOME=${CADDY_CONFIG_DIR}`, `XDG_DATA_HOME=${CADDY_DATA_DIR}`],
                ...(mounts.length > 0 ? { mounts } : {}),
                ports: proxyPorts(args),
                networksAdvanced: [{ name: args.network, aliases: [ALIASES.proxy] }],
                // No startInterval even where the daemon has it: a healthcheck change replaces the proxy (delete-first: it holds the port).
                healthcheck: healthcheckInput({ test: ["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:2019/config/"], intervalSeconds: 10, timeoutSeconds: 5, retries: 5, startPeriodSeconds: 5 }, BASELINE_DAEMON),
                restart: "unless-stopped",
                wait: true,
                waitTimeout: 60,
                // Caddy finishes in-flight requests on SIGTERM; give it the time when it is replaced.
                stopTimeout: 10,
                destroyGraceSeconds: 10,
                labels: platformLabels(project, stack, "proxy", tlsLabels(args.tls)),
            },
            // Fixed name and a published host port: the old container must let go of both first.
            { parent: this, dependsOn: opts?.dependsOn, deleteBeforeReplace: true, replaceOnChanges: ["healthcheck"] },
        );
        this.registerOutputs({ containerName: this.container.name });
    }
}
