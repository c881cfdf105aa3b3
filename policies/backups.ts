import { ResourceValidationPolicy } from "@pulumi/policy";
import { BACKUP_ENV, parseSwitch } from "../lib/backup/settings";
import { Finding, Props, TYPES, asString, envMapEntries, known, rule } from "./util";

/**
 * Advisory: a stack may switch pre-migration backups off on purpose (a throwaway stack, a
 * database backed up some other way), but never without it showing in every preview and update.
 */
export const backupsBeforeMigrations: ResourceValidationPolicy = rule<Record<string, never>>({
    name: "backups-before-migrations",
    description: "The migration command takes a verified backup before it changes the database; a stack that switches that off (`cartie:preMigrationBackup false`) is reported.",
    config: {},
    enforcementLevel: "advisory",
    types: [TYPES.localCommand],
    check(props: Props): Finding[] {
        const create = asString(known(() => props.create));
        // The Migration component's command (components/migration.ts), without importing the program into the pack.
        if (!create || !/\bscripts\/migrate\.ts\b/.test(create)) return [];
        const env = known(() => props.environment);
        if (env === undefined) return [];
        const value = envMapEntries(env).find((e) => e.name === BACKUP_ENV.preMigration)?.value;
        if (value !== undefined && parseSwitch(value) === true) return [];
        return [
            {
                problem: value === undefined ? `it does not set ${BACKUP_ENV.preMigration}, so no backup is taken before it migrates` : `pre-migration backups are switched off (${BACKUP_ENV.preMigration}=${value}): a migration that goes wrong cannot be undone from a backup`,
                fix: "run `pulumi config set cartie:preMigrationBackup true` (or take one by hand with `npm run backup` before every `pulumi up` that migrates)",
            },
        ];
    },
});
