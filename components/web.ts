import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { WEB_PORT } from "../lib/env";
import { DockerDaemon } from "../lib/docker/daemon";
import { declareAppContainer } from "./appContainer";

export interface WebArgs {
    namePrefix: string;
    imageName: pulumi.Input<string>;
    contentTag: pulumi.Input<string>;
    network: pulumi.Input<string>;
    /** The daemon deployed to (lib/docker/daemon.ts): what its healthcheck may use. */
    daemon: pulumi.Input<DockerDaemon>;
}

/**
 * The web SPA in its own small static-server container (the incident's shape): a web rebuild
 * for a new VITE_API_BASE_URL replaces this container only, and the proxy stays up.
 */
export class Web extends pulumi.ComponentResource {
    readonly container: docker.Container;
    /** `<prefix>-web-<7 hex>`, new for every release. */
    readonly containerName: pulumi.Output<string>;

    constructor(name: string, args: WebArgs, opts?: pulumi.ComponentResourceOptions) {
        super("cartie:platform:Web", name, {}, opts);
        this.container = declareAppContainer(
            {
                namePrefix: args.namePrefix,
                role: "web",
                imageName: args.imageName,
                contentTag: args.contentTag,
                network: args.network,
                daemon: args.daemon,
                healthcheck: ["CMD", "wget", "-q", "-O", "/dev/null", `http://127.0.0.1:${WEB_PORT}/`],
                // The web says which release it is (header x-cartie-release), as the api does.
                envs: pulumi.output(args.contentTag).apply((tag) => [`CARTIE_RELEASE=${tag}`]),
            },
            { parent: this, dependsOn: opts?.dependsOn },
        );
        this.containerName = this.container.name;
        this.registerOutputs({ containerName: this.containerName });
    }
}
