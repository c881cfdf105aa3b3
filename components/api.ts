import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { ALIASES, API_PORT, HEALTH_PATH, toEnvList } from "../lib/env";
import { LABELS, platformLabels } from "../lib/labels";

export interface ApiArgs {
    namePrefix: string;
    imageName: pulumi.Input<string>;
    contentTag: pulumi.Input<string>;
    network: pulumi.Input<string>;
    /** DATABASE_URL, JWT_SECRET, SEED_SUPERADMIN_* …: the whole list is stored as a secret. */
    environment: Record<string, string>;
}

/** Node's own fetch, so the healthcheck needs nothing the api image might not have (no curl, no wget). */
export function apiHealthcheckCommand(port: number = API_PORT, healthPath: string = HEALTH_PATH): string[] {
    return [
        "CMD",
        "node",
        "-e",
        `fetch('http://127.0.0.1:${port}${healthPath}').then(r=>process.exit(r.status===200?0:1),()=>process.exit(1))`,
    ];
}

/** The api container: created only after the migration (the caller passes it in dependsOn). */
export class Api extends pulumi.ComponentResource {
    readonly container: docker.Container;

    constructor(name: string, args: ApiArgs, opts?: pulumi.ComponentResourceOptions) {
        super("cartie:platform:Api", name, {}, opts);
        this.container = new docker.Container(
            name,
            {
                name: `${args.namePrefix}-api`,
                image: args.imageName,
                envs: pulumi.secret(toEnvList(args.environment)),
                networksAdvanced: [{ name: args.network, aliases: [ALIASES.api] }],
                healthcheck: { tests: apiHealthcheckCommand(), interval: "10s", timeout: "5s", retries: 5, startPeriod: "20s" },
                restart: "unless-stopped",
                wait: true,
                waitTimeout: 180,
                labels: pulumi.output(args.contentTag).apply((tag) => platformLabels(pulumi.getProject(), pulumi.getStack(), "api", { [LABELS.contentTag]: tag })),
            },
            {
                parent: this,
                // A component's dependsOn does not hold back its children: pass it on.
                dependsOn: opts?.dependsOn,
                deleteBeforeReplace: true,
                replaceOnChanges: ["healthcheck"],
                additionalSecretOutputs: ["envs"],
            },
        );
        this.registerOutputs({ containerName: this.container.name });
    }
}
