import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { LABELS, platformLabels } from "../lib/labels";

export type AppRole = "api" | "web";

/** SIGTERM, then this long to finish in-flight requests before SIGKILL (the sample api's own hard timer is 20 s). */
export const STOP_GRACE_SECONDS = 30;

export interface AppContainerArgs {
    namePrefix: string;
    role: AppRole;
    imageName: pulumi.Input<string>;
    contentTag: pulumi.Input<string>;
    network: pulumi.Input<string>;
    /** The healthcheck in Docker's `CMD` form: the release's gate reads Docker's verdict of it. */
    healthcheck: string[];
    /** The container's whole environment; stored as a secret. */
    envs?: pulumi.Input<string[]>;
}

/**
 * How api and web containers are declared, health-gated and replaced, in one place.
 *
 * - No fixed name: Pulumi auto-names each one `<prefix>-<role>-<7 hex>`, so a release's new
 *   container starts next to the serving one (create-before-delete, set explicitly because the
 *   docker provider defaults containers to delete-first).
 * - No shared network alias: Docker's DNS answers for a running container whatever its health;
 *   the proxy routes to container names, switched only by the Release step.
 * - `wait: false`: the Release step gates the container itself. The provider's own wait leaves a
 *   failed container recorded with init errors and marks the serving one pending deletion.
 * - `retainOnDelete`: the engine retires a replaced container (or a pending deletion, first thing
 *   on the next update, even after a failed release) without touching it; only the Release step
 *   stops an old container, after it left routing, and `pulumi destroy` runs its `--retire-all`.
 */
export function declareAppContainer(args: AppContainerArgs, opts: { parent: pulumi.Resource; dependsOn?: pulumi.Input<pulumi.Input<pulumi.Resource>[]> | pulumi.Input<pulumi.Resource> }): docker.Container {
    return new docker.Container(
        `${args.namePrefix}-${args.role}`,
        {
            image: args.imageName,
            envs: args.envs ? pulumi.secret(args.envs) : undefined,
            networksAdvanced: [{ name: args.network }],
            healthcheck: { tests: args.healthcheck, interval: "10s", timeout: "10s", retries: 3, startPeriod: "60s", startInterval: "2s" },
            restart: "unless-stopped",
            wait: false,
            stopSignal: "SIGTERM",
            stopTimeout: STOP_GRACE_SECONDS,
            destroyGraceSeconds: STOP_GRACE_SECONDS,
            labels: pulumi.output(args.contentTag).apply((tag) => platformLabels(pulumi.getProject(), pulumi.getStack(), args.role, { [LABELS.contentTag]: tag })),
        },
        {
            parent: opts.parent,
            // A component's dependsOn does not hold back its children: pass it on.
            dependsOn: opts.dependsOn,
            deleteBeforeReplace: false,
            retainOnDelete: true,
            // Docker cannot change a running container's healthcheck.
            replaceOnChanges: ["healthcheck"],
            additionalSecretOutputs: args.envs ? ["envs"] : [],
        },
    );
}
