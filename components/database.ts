import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { ALIASES, DEFAULT_DB_IDENTITY, DbDataLayout, DbIdentity, POSTGRES_DATA_DIR, toEnvList } from "../lib/env";
import { BASELINE_DAEMON } from "../lib/docker/daemon";
import { healthcheckInput } from "../lib/docker/healthcheck";
import { LABELS, platformLabels } from "../lib/docker/labels";
import { DB_SECRETS_DIR, PASSWORD_FILE } from "../lib/rotation/dbPassword";
import { DbPassword } from "./dbPassword";
import { DbReady } from "./dbReady";

export interface DatabaseArgs {
    namePrefix: string;
    /** Pinned Postgres image reference. */
    image: string;
    /** Name of the data volume (the program's own, or an adopted legacy one). */
    volumeName: string;
    network: pulumi.Input<string>;
    /** POSTGRES_USER, POSTGRES_DB (and PGDATA when `layout` sets one); never the password (`dbEnvironment`). */
    environment: Record<string, string>;
    /** `cartie:postgresPassword`: an input of the db-password step only, never of the container. */
    password: pulumi.Input<string>;
    /** The role and database the healthcheck asks for; `cartie`/`cartie` unless configured. */
    identity?: DbIdentity;
    /** Where the volume is mounted and where the data directory is below it (`dbDataLayout`). */
    layout?: DbDataLayout;
}

/**
 * Postgres on a data volume that nothing in this program can delete: the volume is protected
 * and retained on delete, so `pulumi destroy` or a replacement leaves every row where it was.
 *
 * The password is not an input of the container: Postgres reads it only when it initialises an
 * empty volume, so a changed POSTGRES_PASSWORD would replace the container and change nothing in
 * the database. The db-password steps (components/dbPassword.ts) keep the role's password and the
 * file on the db-secrets volume in line; the container reads that file (POSTGRES_PASSWORD_FILE)
 * when it initialises a new volume.
 *
 * Order: password file → container → `db-ready` (the health gate) → `db-password` (the rotation).
 * What needs the database (the migration, the api) waits for the whole component.
 */
export class Database extends pulumi.ComponentResource {
    readonly volume: docker.Volume;
    /** Holds `postgres-password`, the configured password, for a new volume's initialisation and the migration. */
    readonly secretsVolume: docker.Volume;
    readonly passwordStep: DbPassword;
    readonly container: docker.Container;
    /** The health gate: passes once the container is healthy; fails naming the db otherwise. */
    readonly ready: DbReady;
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
        this.secretsVolume = new docker.Volume(
            `${name}-secrets`,
            { name: `${args.namePrefix}-db-secrets`, labels: platformLabels(project, stack, "db-secrets") },
            // The file is the only copy of the password the database was given at initialisation: kept like the data.
            { parent: this, dependsOn: opts?.dependsOn, protect: true, retainOnDelete: true },
        );
        const identity = args.identity ?? DEFAULT_DB_IDENTITY;
        const containerName = `${args.namePrefix}-db`;
        let readyResolved: (r: pulumi.Resource) => void = () => undefined;
        const dbReady = new Promise<pulumi.Resource>((resolve) => (readyResolved = resolve));
        this.passwordStep = new DbPassword(
            "db-password",
            { dbContainerName: containerName, secretsVolume: this.secretsVolume.name, image: args.image, identity, password: args.password, dbReady },
            // The file step comes before the container: a new data volume's initialisation reads the file.
            { parent: this, dependsOn: [image, this.volume, this.secretsVolume, ...toResources(opts?.dependsOn)] },
        );

        const layout = args.layout ?? { mountTarget: POSTGRES_DATA_DIR };
        // The environment is one secret, so preview would hide PGDATA: a label shows it (only when set, so existing stacks see no change).
        const extraLabels: Record<string, string> = layout.pgdata ? { [LABELS.pgdata]: layout.pgdata } : {};
        this.container = new docker.Container(
            name,
            {
                name: containerName,
                image: image.imageId,
                // Secret although it holds no password: the policy pack reads *PASSWORD* names as secrets.
                envs: pulumi.secret(toEnvList({ ...args.environment, POSTGRES_PASSWORD_FILE: PASSWORD_FILE })),
                mounts: [
                    { type: "volume", source: this.volume.name, target: layout.mountTarget },
                    { type: "volume", source: this.secretsVolume.name, target: DB_SECRETS_DIR, readOnly: true },
                ],
                networksAdvanced: [{ name: args.network, aliases: [ALIASES.db] }],
                // No startInterval even where the daemon has it: a healthcheck change replaces the db (delete-first), so it stays what it was.
                healthcheck: healthcheckInput({ test: ["CMD", "pg_isready", "-U", identity.user, "-d", identity.name], intervalSeconds: 5, timeoutSeconds: 5, retries: 10, startPeriodSeconds: 10 }, BASELINE_DAEMON),
                restart: "unless-stopped",
                // The gate below waits for health and names the db when it fails; the provider's wait would not (see DbReady).
                wait: false,
                // Postgres needs time to checkpoint; a hard kill risks a crash recovery on next start.
                stopTimeout: 60,
                destroyGraceSeconds: 60,
                labels: platformLabels(project, stack, "db", extraLabels),
            },
            {
                parent: this,
                // A component's dependsOn (the legacy takeover) does not hold back its children: pass it on.
                dependsOn: [this.passwordStep.file, ...toResources(opts?.dependsOn)],
                // A fixed name, and one data directory: the old server stops before the new one starts.
                deleteBeforeReplace: true,
                replaceOnChanges: ["healthcheck"],
                additionalSecretOutputs: ["envs"],
            },
        );
        this.ready = new DbReady("db-ready", { dbContainerName: this.container.name, dbContainerId: this.container.id }, { parent: this, dependsOn: [this.container] });
        readyResolved(this.ready.command);
        this.containerName = this.container.name;
        this.volumeName = this.volume.name;
        this.registerOutputs({ containerName: this.containerName, volumeName: this.volumeName, secretsVolumeName: this.secretsVolume.name });
    }
}

/** The resources of a `dependsOn` option (the program passes plain lists). */
function toResources(d: pulumi.ResourceOptions["dependsOn"]): pulumi.Resource[] {
    if (d === undefined) return [];
    if (Array.isArray(d)) return d.filter((r): r is pulumi.Resource => pulumi.Resource.isInstance(r));
    return pulumi.Resource.isInstance(d) ? [d] : [];
}
