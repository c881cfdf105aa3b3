import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { DockerDaemon } from "../lib/docker/daemon";
import { healthcheckInput } from "../lib/docker/healthcheck";
import { LABELS, platformLabels } from "../lib/docker/labels";

export type AppRole = "api" | "web";

/** SIGTERM, then this long to finish in-flight requests before SIGKILL (the sample api's own hard timer is 20 s). */
export const STOP_GRACE_SECONDS = 30;

/**
 * Probe every 10 s; up to 60 s to start (migrations are done before, so that is the app's own
 * boot); every 2 s while starting where the daemon can (API 1.44+), else the first probe comes
 * after 10 s and a release's gate waits that long.
 */
export const appHealthcheck = (test: string[]) => ({ test, intervalSeconds: 10, timeoutSeconds: 10, retries: 3, startPeriodSeconds: 60, startIntervalSeconds: 2 });

export interface AppContainerArgs {
    namePrefix: string;
    role: AppRole;
    imageName: pulumi.Input<string>;
    contentTag: pulumi.Input<string>;
    network: pulumi.Input<string>;
    /** The healthcheck in Docker's `CMD` form: the release's gate reads Docker's verdict of it. */
    healthcheck: string[];
    /** The daemon deployed to: whether the healthcheck may probe faster while the container starts. */
    daemon: pulumi.Input<DockerDaemon>;
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
 * - Deleted by the provider (SIGTERM, `destroyGraceSeconds`, remove) only where the engine deletes
 *   it: a replaced container at the end of a successful update, a pending deletion at the end of
 *   the next update that reaches its delete phase (pulumi/pulumi#2948, since v3.46; seen on the real
 *   engine: test/real/deploys), `pulumi destroy`. By then the Release step has switched users away
 *   from it and retired it, so the provider finds it gone ("No such container" is not an error in
 *   kreuzwerker's delete, `resourceDockerContainerDelete`); a destroy stops the live ones gracefully.
 */
export function declareAppContainer(args: AppContainerArgs, opts: { parent: pulumi.Resource; dependsOn?: pulumi.Input<pulumi.Input<pulumi.Resource>[]> | pulumi.Input<pulumi.Resource> }): docker.Container {
    return new docker.Container(
        `${args.namePrefix}-${args.role}`,
        {
            image: args.imageName,
            envs: args.envs ? pulumi.secret(args.envs) : undefined,
            networksAdvanced: [{ name: args.network }],
            healthcheck: pulumi.output(args.daemon).apply((daemon) => healthcheckInput(appHealthcheck(args.healthcheck), daemon)),
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
            // Docker cannot change a running container's healthcheck.
            replaceOnChanges: ["healthcheck"],
            additionalSecretOutputs: args.envs ? ["envs"] : [],
        },
    );
}
