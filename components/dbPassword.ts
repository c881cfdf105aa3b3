import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { DbIdentity } from "../lib/env";

export interface DbPasswordArgs {
    /** The db container's fixed name. */
    dbContainerName: string;
    /** The db-secrets volume that holds `postgres-password`. */
    secretsVolume: pulumi.Input<string>;
    /** The db's image: the steps read and write the file with it, as its postgres user. */
    image: pulumi.Input<string>;
    identity: DbIdentity;
    /** `cartie:postgresPassword`: the steps' only secret input. */
    password: pulumi.Input<string>;
}

export const DB_PASSWORD_COMMAND = "node --import tsx scripts/db-password.ts";

/**
 * The database password, in two steps around the db container (`Database` orders them):
 *
 * - `db-password-file`, before the container: writes the password file on the db-secrets volume
 *   when there is none, which is what a new data volume's initialisation reads
 *   (POSTGRES_PASSWORD_FILE). An existing file is left alone. It ignores later password changes
 *   (the rotation step owns them), so a rotation never shows it in preview.
 * - `db-password`, once the db container is healthy: the rotation. It changes the role's password
 *   in the running database if it refuses the configured one (over its local socket, with a SCRAM
 *   verifier), verifies it, then writes the file. The api and the migration wait for it.
 *
 * The rotation used to run before the container, so a db that never became healthy blocked the very
 * update that would fix its config (seen on the real engine); after the container it only ever
 * waits for a db the same update has already made healthy. Idempotent: with the password unchanged
 * neither step's inputs change, and run again each finds nothing to do.
 */
export class DbPassword extends pulumi.ComponentResource {
    /** Before the db container: the file a fresh data volume is initialised from. */
    readonly file: command.local.Command;
    /** After the db is healthy: the role and the file hold the configured password. */
    readonly command: command.local.Command;

    /**
     * `dbReady` resolves to the db's health gate, which `Database` declares after this component:
     * the file step must come before the db container, the rotation after the db is healthy.
     */
    constructor(name: string, args: DbPasswordArgs & { dbReady: Promise<pulumi.Resource> }, opts?: pulumi.ComponentResourceOptions) {
        super("cartie:platform:DbPassword", name, {}, opts);
        const environment = {
            CARTIE_DB_CONTAINER: args.dbContainerName,
            CARTIE_DB_PWFILE_VOLUME: args.secretsVolume,
            CARTIE_DB_IMAGE: args.image,
            CARTIE_DB_USER: args.identity.user,
            CARTIE_DB_NAME: args.identity.name,
            POSTGRES_PASSWORD: pulumi.secret(args.password),
        };
        const secretOutputs = { additionalSecretOutputs: ["stdout", "stderr", "environment"] };
        this.file = new command.local.Command(
            `${name}-file`,
            { create: `${DB_PASSWORD_COMMAND} --file-only`, environment },
            // A rotation is the other step's work: the old value stands in here (the engine's ignoreChanges).
            { parent: this, dependsOn: opts?.dependsOn, ignoreChanges: ["environment.POSTGRES_PASSWORD"], ...secretOutputs },
        );
        this.command = new command.local.Command(name, { create: DB_PASSWORD_COMMAND, environment }, { parent: this, dependsOn: args.dbReady, ...secretOutputs });
        this.registerOutputs({});
    }
}
