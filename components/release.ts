import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { routedCaddyfile } from "../lib/release/release";
import { ReleaseSpec } from "../lib/release/spec";

/**
 * The spec's plain settings as they are (one definition, in lib/release/spec.ts), plus the
 * containers as Pulumi inputs: the component turns those into the spec's `proxyContainer`,
 * `desired` upstreams and `labels` once they are known.
 */
export interface ReleaseArgs extends Omit<ReleaseSpec, "proxyContainer" | "routesContainer" | "network" | "desired" | "labels"> {
    proxyContainerName: pulumi.Input<string>;
    /** A recreated proxy starts on its bootstrap config: its new id re-runs the release, which routes it again. */
    proxyContainerId: pulumi.Input<string>;
    routesContainerName: pulumi.Input<string>;
    /** A recreated responder re-runs the release, which checks its records. */
    routesContainerId: pulumi.Input<string>;
    network: pulumi.Input<string>;
    apiContainerName: pulumi.Input<string>;
    webContainerName: pulumi.Input<string>;
}

export const RELEASE_COMMAND = "node --import tsx scripts/release.ts";

/**
 * The switchover: gates the new containers, smoke-checks them through the proxy's candidate
 * listener, then rewrites the routes responder's live records and retires the old containers
 * (lib/release/release.ts). Every input is plain data, so `pulumi preview` shows a release as the
 * containers it routes to, and a routing change as the new Caddyfile it loads.
 * No triggers: an input change is an update (create runs again), not a replacement. The delete
 * command runs on `pulumi destroy` and whenever the engine replaces this resource itself (`--replace`,
 * a rename): it retires only containers no route names (`retireLeftovers`). A failed update keeps
 * the previous inputs in state, so the next `pulumi up` runs the same release again.
 */
export class Release extends pulumi.ComponentResource {
    readonly command: command.local.Command;
    /** The live Caddyfile this release loads into the proxy. */
    readonly caddyfile: pulumi.Output<string>;
    /** JSON summary: what switched, the live routes, what was retired. */
    readonly result: pulumi.Output<string>;

    constructor(name: string, args: ReleaseArgs, opts?: pulumi.ComponentResourceOptions) {
        super("cartie:platform:Release", name, {}, opts);
        const spec = pulumi.all([args.proxyContainerName, args.routesContainerName, args.network, args.apiContainerName, args.webContainerName]).apply(
            ([proxy, routes, network, api, web]): ReleaseSpec => ({
                proxyContainer: proxy,
                routesContainer: routes,
                network,
                desired: { api, web },
                ports: args.ports,
                listenPort: args.listenPort,
                candidatePort: args.candidatePort,
                apiPathPrefix: args.apiPathPrefix,
                accessLog: args.accessLog,
                ...(args.https ? { https: args.https } : {}),
                smokePaths: args.smokePaths,
                labels: { project: pulumi.getProject(), stack: pulumi.getStack() },
                healthTimeoutSeconds: args.healthTimeoutSeconds,
                drainTimeoutSeconds: args.drainTimeoutSeconds,
                stopGraceSeconds: args.stopGraceSeconds,
            }),
        );
        this.caddyfile = spec.apply((s) => routedCaddyfile(s));
        this.command = new command.local.Command(
            name,
            {
                create: RELEASE_COMMAND,
                delete: `${RELEASE_COMMAND} --retire-leftovers`,
                environment: {
                    CARTIE_RELEASE_SPEC: spec.apply((s) => JSON.stringify(s, null, 1)),
                    CARTIE_CADDYFILE: this.caddyfile,
                    CARTIE_PROXY_ID: args.proxyContainerId,
                    CARTIE_ROUTES_ID: args.routesContainerId,
                },
            },
            { parent: this, dependsOn: opts?.dependsOn },
        );
        this.result = this.command.stdout;
        this.registerOutputs({ caddyfile: this.caddyfile, result: this.result });
    }
}
