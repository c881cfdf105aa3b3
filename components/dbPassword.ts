import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { DbIdentity } from "../lib/env";

export interface DbPasswordArgs {
    /** The db container's fixed name (it may not exist yet: the step runs before it is created). */
    dbContainerName: string;
    /** The db-secrets volume that holds `postgres-password`. */
    secretsVolume: pulumi.Input<string>;
    /** The db's image: the step reads and writes the file with it, as its postgres user. */
    image: pulumi.Input<string>;
    identity: DbIdentity;
    /** `cartie:postgresPassword`: the step's only secret input. */
    password: pulumi.Input<string>;
}

export const DB_PASSWORD_COMMAND = "node --import tsx scripts/db-password.ts";

/**
 * The database password rotation: the one resource a `cartie:postgresPassword` change updates
 * besides the api, so preview shows the rotation as its own step. It changes the role's password
 * in the running database (over its local socket, with a SCRAM verifier), verifies it, and then
 * writes the password file on the db-secrets volume (what a fresh volume's initialisation and the
 * migration read). The db container waits for it (a fresh volume needs the file) and so does the
 * api (the role must accept the new password before the new api's health gate). Idempotent: with
 * the password unchanged its inputs are unchanged, and run again it finds nothing to do.
 */
export class DbPassword extends pulumi.ComponentResource {
    readonly command: command.local.Command;

    constructor(name: string, args: DbPasswordArgs, opts?: pulumi.ComponentResourceOptions) {
        super("cartie:platform:DbPassword", name, {}, opts);
        this.command = new command.local.Command(
            name,
            {
                create: DB_PASSWORD_COMMAND,
                environment: {
                    CARTIE_DB_CONTAINER: args.dbContainerName,
                    CARTIE_DB_PWFILE_VOLUME: args.secretsVolume,
                    CARTIE_DB_IMAGE: args.image,
                    CARTIE_DB_USER: args.identity.user,
                    CARTIE_DB_NAME: args.identity.name,
                    POSTGRES_PASSWORD: pulumi.secret(args.password),
                },
            },
            { parent: this, dependsOn: opts?.dependsOn, additionalSecretOutputs: ["stdout", "stderr", "environment"] },
        );
        this.registerOutputs({});
    }
}
