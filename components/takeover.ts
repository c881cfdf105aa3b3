import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { DEFAULT_DB_IDENTITY, DbIdentity } from "../lib/env";
import { TAKEOVER_STEPS, TakeoverInputs, TakeoverStep, takeoverCommand } from "../lib/takeover/types";
import { BACKUP_DEFAULTS } from "../lib/backup/settings";

export interface TakeoverArgs {
    /** Compose project of the legacy host (`cartie:legacyComposeProject`), e.g. `infra2`. */
    project: string;
    /** The Postgres data volume the platform adopts (`cartie:dataVolume`). */
    dataVolume: string;
    /** The configured Postgres image: the throwaway containers run it, and the data must match its major version. */
    postgresImage: string;
    publicPort: number;
    /** `cartie:pgdataSubdir`: the data directory's folder in the volume ("" for its root). */
    pgdataSubdir?: string;
    /** `cartie:dbUser` / `cartie:dbName`. */
    identity?: DbIdentity;
    /** `cartie:postgresPassword`; kept a secret. */
    postgresPassword: pulumi.Input<string>;
    /** Backups folder, relative to the project directory the command runs in. */
    backupDir?: string;
}

/** The environment of every step, as plain values (the component wraps the password as a secret). */
export function takeoverEnvironment(args: Omit<TakeoverArgs, "postgresPassword"> & { postgresPassword: string }): Record<string, string> {
    return {
        CARTIE_LEGACY_PROJECT: args.project,
        CARTIE_DATA_VOLUME: args.dataVolume,
        CARTIE_POSTGRES_IMAGE: args.postgresImage,
        CARTIE_PUBLIC_PORT: String(args.publicPort),
        CARTIE_BACKUP_DIR: args.backupDir ?? BACKUP_DEFAULTS.dir,
        CARTIE_POSTGRES_PASSWORD: args.postgresPassword,
        // Only when not the defaults: the commands of a stack that sets none of them stay exactly as they were.
        ...(args.pgdataSubdir ? { CARTIE_PGDATA_SUBDIR: args.pgdataSubdir } : {}),
        ...(args.identity && args.identity.user !== DEFAULT_DB_IDENTITY.user ? { CARTIE_DB_USER: args.identity.user } : {}),
        ...(args.identity && args.identity.name !== DEFAULT_DB_IDENTITY.name ? { CARTIE_DB_NAME: args.identity.name } : {}),
    };
}

/** The inverse of `takeoverEnvironment` for the data folder and identity, with the same defaults. */
export function takeoverIdentityFromEnv(env: Record<string, string | undefined>): Pick<TakeoverInputs, "pgdataSubdir" | "dbUser" | "dbName"> {
    return {
        pgdataSubdir: env.CARTIE_PGDATA_SUBDIR?.trim() ?? "",
        dbUser: env.CARTIE_DB_USER?.trim() || DEFAULT_DB_IDENTITY.user,
        dbName: env.CARTIE_DB_NAME?.trim() || DEFAULT_DB_IDENTITY.name,
    };
}

/**
 * Adopts a docker-compose host before the platform's db starts: preflight (refuses before
 * anything changes), a logical backup of the legacy database, then the legacy containers stopped
 * and removed (apps first, the db last, volumes never). Every input is constant for a host, so
 * the steps run on the first `pulumi up` only; each step is idempotent when re-run.
 */
export class Takeover extends pulumi.ComponentResource {
    readonly preflight: command.local.Command;
    readonly backup: command.local.Command;
    readonly takeover: command.local.Command;
    /** The last step: whatever may start a Postgres on the data volume depends on this. */
    readonly done: command.local.Command;
    /** What the steps printed (masked, stored as secrets). */
    readonly report: pulumi.Output<string>;

    constructor(name: string, args: TakeoverArgs, opts?: pulumi.ComponentResourceOptions) {
        super("cartie:platform:Takeover", name, {}, opts);
        const environment = {
            ...takeoverEnvironment({ ...args, postgresPassword: "" }),
            CARTIE_POSTGRES_PASSWORD: pulumi.secret(args.postgresPassword),
        };
        const steps = {} as Record<TakeoverStep, command.local.Command>;
        let previous: pulumi.ResourceOptions["dependsOn"] = opts?.dependsOn;
        for (const step of TAKEOVER_STEPS) {
            steps[step] = new command.local.Command(
                `${name}-${step}`,
                { create: takeoverCommand(step), environment },
                // A component's dependsOn does not hold back its children: pass it on, then chain the steps.
                {
                    parent: this,
                    dependsOn: previous,
                    additionalSecretOutputs: ["stdout", "stderr", "environment"],
                    // The password is the legacy db's, needed only while that db runs (preflight, backup); once
                    // adopted, a rotation (the db-password step) must not run the takeover again. A step that
                    // never succeeded is not in state, so it still takes the current value.
                    ignoreChanges: ["environment.CARTIE_POSTGRES_PASSWORD"],
                },
            );
            previous = [steps[step]];
        }
        this.preflight = steps.preflight;
        this.backup = steps.backup;
        this.takeover = steps.takeover;
        this.done = steps.takeover;
        this.report = pulumi.all([this.preflight.stdout, this.backup.stdout, this.takeover.stdout]).apply((parts) => parts.join("\n"));
        this.registerOutputs({ report: this.report });
    }
}
