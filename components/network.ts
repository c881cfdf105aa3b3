import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { platformLabels } from "../lib/docker/labels";

export interface NetworkArgs {
    /** Docker name of the network, e.g. `cartie-dev-net`. */
    name: string;
}

/** The platform's own bridge network: containers reach each other only by their aliases on it. */
export class Network extends pulumi.ComponentResource {
    readonly network: docker.Network;
    readonly name: pulumi.Output<string>;

    constructor(name: string, args: NetworkArgs, opts?: pulumi.ComponentResourceOptions) {
        super("cartie:platform:Network", name, {}, opts);
        this.network = new docker.Network(
            name,
            { name: args.name, driver: "bridge", labels: platformLabels(pulumi.getProject(), pulumi.getStack(), "network") },
            { parent: this },
        );
        this.name = this.network.name;
        this.registerOutputs({ name: this.name });
    }
}
