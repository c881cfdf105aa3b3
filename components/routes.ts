import * as path from "node:path";
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { BASELINE_DAEMON } from "../lib/docker/daemon";
import { healthcheckInput } from "../lib/docker/healthcheck";
import { platformLabels } from "../lib/docker/labels";
import { ROUTES_ALIAS, ROUTES_DIR } from "../lib/routes/names";
import { AppImage } from "./images";

/** The responder's build context, relative to the Pulumi project (where `pulumi up` runs). */
export const ROUTES_CONTEXT = "images/routes";

export interface RoutesArgs {
    namePrefix: string;
    network: pulumi.Input<string>;
    /** The Node base image (`cartie:nodeImage`); unset means the Dockerfile's own default. */
    nodeImage?: string;
}

/**
 * The routes responder (images/routes/responder.mjs): a DNS server on the platform network,
 * alias `cartie-routes`, that tells the proxy's dynamic upstreams which container serves each
 * role. The release step rewrites its records; Caddy's config never names a container.
 *
 * - Its records live on a volume, so a replaced responder answers exactly what the old one did.
 * - Auto-named and created before the old one is deleted: during a replacement both carry the
 *   alias and read the same records, so the proxy's lookups never go unanswered.
 * - `wait: true`: the release writes records only once it answers its healthcheck query.
 */
export class Routes extends pulumi.ComponentResource {
    readonly image: AppImage;
    readonly volume: docker.Volume;
    readonly container: docker.Container;
    readonly containerName: pulumi.Output<string>;

    constructor(name: string, args: RoutesArgs, opts?: pulumi.ComponentResourceOptions) {
        super("cartie:platform:Routes", name, {}, opts);
        const project = pulumi.getProject();
        const stack = pulumi.getStack();
        this.image = new AppImage(
            `${name}-image`,
            { repository: `${args.namePrefix}-routes`, context: ROUTES_CONTEXT, contextAbs: path.resolve(ROUTES_CONTEXT), buildArgs: args.nodeImage ? { NODE_IMAGE: args.nodeImage } : {} },
            { parent: this },
        );
        this.volume = new docker.Volume(`${name}-data`, { name: `${args.namePrefix}-routes`, labels: platformLabels(project, stack, "routes-data") }, { parent: this });
        this.container = new docker.Container(
            `${args.namePrefix}-routes`,
            {
                image: this.image.imageName,
                networksAdvanced: [{ name: args.network, aliases: [ROUTES_ALIAS] }],
                mounts: [{ type: "volume", source: this.volume.name, target: ROUTES_DIR }],
                // No startInterval even where the daemon has it: a healthcheck change replaces the responder.
                healthcheck: healthcheckInput({ test: ["CMD", "node", "/app/responder.mjs", "--check"], intervalSeconds: 5, timeoutSeconds: 3, retries: 3, startPeriodSeconds: 0 }, BASELINE_DAEMON),
                restart: "unless-stopped",
                wait: true,
                waitTimeout: 60,
                stopSignal: "SIGTERM",
                destroyGraceSeconds: 5,
                labels: platformLabels(project, stack, "routes"),
            },
            { parent: this, dependsOn: opts?.dependsOn, deleteBeforeReplace: false, replaceOnChanges: ["healthcheck"] },
        );
        this.containerName = this.container.name;
        this.registerOutputs({ containerName: this.containerName });
    }
}
