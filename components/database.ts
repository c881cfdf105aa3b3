import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { ALIASES, DEFAULT_DB_IDENTITY, DbDataLayout, DbIdentity, POSTGRES_DATA_DIR, toEnvList } from "../lib/env";
import { LABELS, platformLabels } from "../lib/labels";

export interface DatabaseArgs {
    namePrefix: string;
    /** Pinned Postgres image reference. */
    image: string;
    /** Name of the data volume (the program's own, or an adopted legacy one). */
    volumeName: string;
    network: pulumi.Input<string>;
    /** POSTGRES_* variables (and PGDATA when `layout` sets one); the password makes the whole list a secret. */
    environment: Record<string, string>;
    /** The role and database the healthcheck asks for; `cartie`/`cartie` unless configured. */
    identity?: DbIdentity;
    /** Where the volume is mounted and where the data directory is below it (`dbDataLayout`). */
    layout?: DbDataLayout;
}

/**
 * Postgres on a data volume that nothing in this program can delete: the volume is protected
 * and retained on delete, so `pulumi destroy` or a replacement leaves every row where it was.
 */
export class Database extends pulumi.ComponentResource {
    readonly volume: docker.Volume;
    readonly container: docker.Container;
    readonly containerName: pulumi.Output<string>;
    readonly volumeName: pulumi.Output<string>;

    constructor(name: string, args: DatabaseArgs, opts?: pulumi.ComponentResourceOptions) {
        super("cartie:platform:Database", name, {}, opts);
        const project = pulumi.getProject();
        const stack = pulumi.getStack();

        this.volume = new docker.Volume(
            `${name}-data`,
            { name: args.volumeName, labels: platformLabels(project, stack, "db-data") },
            {
                parent: this,
                dependsOn: opts?.dependsOn,
                protect: true,
                retainOnDelete: true,
                // Docker cannot relabel a volume, and an adopted one keeps its compose labels: a label
                // diff would mean replacing the data, which protect refuses. Labels are set once.
                ignoreChanges: ["labels"],
            },
        );
        const image = new docker.RemoteImage(`${name}-image`, { name: args.image, keepLocally: true }, { parent: this, dependsOn: opts?.dependsOn });

        const identity = args.identity ?? DEFAULT_DB_IDENTITY;
        const layout = args.layout ?? { mountTarget: POSTGRES_DATA_DIR };
        // The environment is one secret, so preview would hide PGDATA: a label shows it (only when set, so existing stacks see no change).
        const extraLabels: Record<string, string> = layout.pgdata ? { [LABELS.pgdata]: layout.pgdata } : {};
        this.container = new docker.Container(
            name,
            {
                name: `${args.namePrefix}-db`,
                image: image.imageId,
                envs: pulumi.secret(toEnvList(args.environment)),
                mounts: [{ type: "volume", source: this.volume.name, target: layout.mountTarget }],
                networksAdvanced: [{ name: args.network, aliases: [ALIASES.db] }],
                healthcheck: {
                    tests: ["CMD", "pg_isready", "-U", identity.user, "-d", identity.name],
                    interval: "5s",
                    timeout: "5s",
                    retries: 10,
                    startPeriod: "10s",
                },
                restart: "unless-stopped",
                wait: true,
                waitTimeout: 180,
                // Postgres needs time to checkpoint; a hard kill risks a crash recovery on next start.
                stopTimeout: 60,
                destroyGraceSeconds: 60,
                labels: platformLabels(project, stack, "db", extraLabels),
            },
            {
                parent: this,
                // A component's dependsOn (the legacy takeover) does not hold back its children: pass it on.
                dependsOn: opts?.dependsOn,
                // A fixed name, and one data directory: the old server stops before the new one starts.
                deleteBeforeReplace: true,
                replaceOnChanges: ["healthcheck"],
                additionalSecretOutputs: ["envs"],
            },
        );
        this.containerName = this.container.name;
        this.volumeName = this.volume.name;
        this.registerOutputs({ containerName: this.containerName, volumeName: this.volumeName });
    }
}
