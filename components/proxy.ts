import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { ALIASES, PROXY_PORT } from "../lib/env";
import { platformLabels } from "../lib/labels";
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
}

/** The Release step rewrites this file in the container after each load, so a restarted proxy comes back on the live routes. */
export const CADDYFILE_PATH = PROXY_CADDYFILE_PATH;

/** Caddy: the platform's only published port, `/api/*` to the api and the rest to the web. */
export class Proxy extends pulumi.ComponentResource {
    readonly container: docker.Container;

    constructor(name: string, args: ProxyArgs, opts?: pulumi.ComponentResourceOptions) {
        super("cartie:platform:Proxy", name, {}, opts);
        const image = new docker.RemoteImage(`${name}-image`, { name: args.image, keepLocally: true }, { parent: this });
        this.container = new docker.Container(
            name,
            {
                name: `${args.namePrefix}-proxy`,
                image: image.imageId,
                command: ["caddy", "run", "--config", CADDYFILE_PATH, "--adapter", "caddyfile"],
                uploads: [{ file: CADDYFILE_PATH, content: args.bootstrapCaddyfile }],
                ports: [{ internal: PROXY_PORT, external: args.publicPort, ip: args.publicBind, protocol: "tcp" }],
                networksAdvanced: [{ name: args.network, aliases: [ALIASES.proxy] }],
                healthcheck: {
                    tests: ["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:2019/config/"],
                    interval: "10s",
                    timeout: "5s",
                    retries: 5,
                    startPeriod: "5s",
                },
                restart: "unless-stopped",
                wait: true,
                waitTimeout: 60,
                // Caddy finishes in-flight requests on SIGTERM; give it the time when it is replaced.
                stopTimeout: 10,
                destroyGraceSeconds: 10,
                labels: platformLabels(pulumi.getProject(), pulumi.getStack(), "proxy"),
            },
            // Fixed name and a published host port: the old container must let go of both first.
            { parent: this, dependsOn: opts?.dependsOn, deleteBeforeReplace: true, replaceOnChanges: ["healthcheck"] },
        );
        this.registerOutputs({ containerName: this.container.name });
    }
}
