import * as command from "@pulumi/command";
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { BackupSettings, backupEnvironment } from "../lib/backup/settings";
import { DbIdentity } from "../lib/env";

export interface MigrationArgs {
    /** The api image (its Prisma CLI, schema and migrations run the migration). */
    apiImageName: pulumi.Input<string>;
    /** Repository of the migrator tag, e.g. `cartie-dev-api-migrator`. */
    migratorRepository: string;
    /** Digest of the migrations folder: the only source change that re-runs the migration. */
    migrationsHash: pulumi.Input<string>;
    /** The migrations folder as configured (relative to the project), read by the plan. */
    migrationsDir: string;
    baseline: string;
    network: pulumi.Input<string>;
    dbContainerName: pulumi.Input<string>;
    /** Changes when the database container is new, so a fresh database is always migrated. */
    dbContainerId: pulumi.Input<string>;
    /** The role and database the migration connects as (the password is read at run time, see below). */
    identity: DbIdentity;
    /** The db-secrets volume and the db image that reads it: the migration takes the password from there. */
    secretsVolume: pulumi.Input<string>;
    dbImage: pulumi.Input<string>;
    /** The pre-migration backup: where, how many kept, or switched off. Inputs, so preview shows them. */
    backup: BackupSettings;
    /** Whose backups they are (the stack's name prefix, `cartie-dev`): part of each file name. */
    backupProject: string;
}

/** The command the resource runs: a tested module of this project, not a shell one-liner. */
export const MIGRATE_COMMAND = "node --import tsx scripts/migrate.ts";

/**
 * Runs the forward-only migration plan once the db is healthy. The api image is reached through a
 * tag named after the migrations digest, so an api source change moves that tag but changes no
 * input of the command: the migration re-runs only for new migrations or a new database. Before
 * it changes anything it takes a verified backup (see lib/backup), as the backup inputs say.
 * The password is not an input: it is read from the db-secrets volume when the migration runs,
 * so a password rotation neither re-runs nor touches the migration.
 */
export class Migration extends pulumi.ComponentResource {
    readonly command: command.local.Command;
    readonly migratorImage: pulumi.Output<string>;
    /** What the migration did, masked (stored as a secret: it may echo database details). */
    readonly log: pulumi.Output<string>;

    constructor(name: string, args: MigrationArgs, opts?: pulumi.ComponentResourceOptions) {
        super("cartie:platform:Migration", name, {}, opts);
        const migratorTag = pulumi.output(args.migrationsHash).apply((h) => `${args.migratorRepository}:${h.slice(0, 16)}`);
        // Moving the tag to a new api image replaces this resource under the same target name:
        // delete-first, or deleting the old resource would untag the new image.
        const tag = new docker.Tag(`${name}-image`, { sourceImage: args.apiImageName, targetImage: migratorTag }, { parent: this, deleteBeforeReplace: true });
        this.migratorImage = tag.targetImage;
        this.command = new command.local.Command(
            name,
            {
                create: MIGRATE_COMMAND,
                environment: {
                    CARTIE_MIGRATOR_IMAGE: tag.targetImage,
                    CARTIE_NETWORK: args.network,
                    CARTIE_DB_CONTAINER: args.dbContainerName,
                    CARTIE_MIGRATIONS_DIR: args.migrationsDir,
                    CARTIE_MIGRATION_BASELINE: args.baseline,
                    ...backupEnvironment(args.backup, args.backupProject),
                    CARTIE_DB_USER: args.identity.user,
                    CARTIE_DB_NAME: args.identity.name,
                    CARTIE_DB_PWFILE_VOLUME: args.secretsVolume,
                    CARTIE_DB_IMAGE: args.dbImage,
                },
                triggers: [args.migrationsHash, args.dbContainerId],
            },
            { parent: this, dependsOn: opts?.dependsOn, additionalSecretOutputs: ["stdout", "stderr", "environment"] },
        );
        this.log = this.command.stdout;
        this.registerOutputs({ migratorImage: this.migratorImage, log: this.log });
    }
}
