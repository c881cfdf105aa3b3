import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { ALIASES, WEB_PORT } from "../lib/env";
import { LABELS, platformLabels } from "../lib/labels";

export interface WebArgs {
    namePrefix: string;
    imageName: pulumi.Input<string>;
    contentTag: pulumi.Input<string>;
    network: pulumi.Input<string>;
}

/**
 * The web SPA in its own small static-server container (the incident's shape): a web rebuild
 * for a new VITE_API_BASE_URL replaces this container only, and the proxy stays up.
 */
export class Web extends pulumi.ComponentResource {
    readonly container: docker.Container;

    constructor(name: string, args: WebArgs, opts?: pulumi.ComponentResourceOptions) {
        super("cartie:platform:Web", name, {}, opts);
        this.container = new docker.Container(
            name,
            {
                name: `${args.namePrefix}-web`,
                image: args.imageName,
                networksAdvanced: [{ name: args.network, aliases: [ALIASES.web] }],
                healthcheck: {
                    tests: ["CMD", "wget", "-q", "-O", "/dev/null", `http://127.0.0.1:${WEB_PORT}/`],
                    interval: "10s",
                    timeout: "5s",
                    retries: 5,
                    startPeriod: "5s",
                },
                restart: "unless-stopped",
                wait: true,
                waitTimeout: 120,
                labels: pulumi.output(args.contentTag).apply((tag) => platformLabels(pulumi.getProject(), pulumi.getStack(), "web", { [LABELS.contentTag]: tag })),
            },
            { parent: this, dependsOn: opts?.dependsOn, deleteBeforeReplace: true, replaceOnChanges: ["healthcheck"] },
        );
        this.registerOutputs({ containerName: this.container.name });
    }
}
