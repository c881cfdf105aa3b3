import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";

export const DB_READY_COMMAND = "node --import tsx scripts/db-ready.ts";

/** How long a new db container may take to become healthy (a large database's crash recovery takes a while). */
export const DB_READY_TIMEOUT_SECONDS = 180;

export interface DbReadyArgs {
    dbContainerName: pulumi.Input<string>;
    /** The container's id: a new container (or one this step has not seen healthy yet) runs the step. */
    dbContainerId: pulumi.Input<string>;
    timeoutSeconds?: number;
}

/**
 * The db's health gate: waits until Docker calls the db container healthy, or fails the update
 * naming the db, its health output and its last log lines. It replaces the provider's own `wait`,
 * which after a timeout records the container with init errors and lets the next `pulumi up`
 * accept it with no wait at all (kreuzwerker v4: `resourceDockerContainerCreate` returns
 * errContainerFailedToBeInHealthyState after the id is set; seen on the real engine). Triggered by
 * the container's id: a failed gate records nothing, so every next `up` runs it again until the
 * db is healthy, and a db the update replaces (its config fixed) is gated afresh.
 */
export class DbReady extends pulumi.ComponentResource {
    readonly command: command.local.Command;

    constructor(name: string, args: DbReadyArgs, opts?: pulumi.ComponentResourceOptions) {
        super("cartie:platform:DbReady", name, {}, opts);
        this.command = new command.local.Command(
            name,
            {
                create: DB_READY_COMMAND,
                environment: { CARTIE_DB_CONTAINER: args.dbContainerName, CARTIE_DB_READY_TIMEOUT: String(args.timeoutSeconds ?? DB_READY_TIMEOUT_SECONDS) },
                triggers: [args.dbContainerId],
            },
            { parent: this, dependsOn: opts?.dependsOn },
        );
        this.registerOutputs({});
    }
}
