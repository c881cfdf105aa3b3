/**
 * The backup settings of a stack (`cartie:backupDir`, `cartie:backupRetention`,
 * `cartie:preMigrationBackup`) and how they travel to the migration command: as environment
 * variables, so they show in `pulumi preview` as inputs of the Migration step.
 */

export interface BackupSettings {
    /** Folder of the backups, relative to the project directory (or absolute). */
    dir: string;
    /** How many pre-migration backups of the stack to keep. */
    retention: number;
    /** Whether the migration takes and verifies a backup before it changes anything. */
    preMigration: boolean;
}

export const BACKUP_DEFAULTS: BackupSettings = { dir: "backups", retention: 10, preMigration: true };

export const BACKUP_ENV = {
    dir: "CARTIE_BACKUP_DIR",
    retention: "CARTIE_BACKUP_RETENTION",
    preMigration: "CARTIE_PRE_MIGRATION_BACKUP",
    /** Whose backups: the platform's name prefix (`cartie-dev`). */
    project: "CARTIE_BACKUP_PROJECT",
} as const;

/** `why` a retention value is not usable, or undefined. */
export function retentionProblem(raw: string): string | undefined {
    return /^\d+$/.test(raw.trim()) && Number(raw) >= 1 && Number(raw) <= 1000 ? undefined : `"${raw}" is not a whole number from 1 to 1000`;
}

/** `true`/`false` (and the usual spellings); undefined when it is neither. */
export function parseSwitch(raw: string): boolean | undefined {
    const v = raw.trim().toLowerCase();
    if (["true", "yes", "on", "1"].includes(v)) return true;
    if (["false", "no", "off", "0"].includes(v)) return false;
    return undefined;
}

export function backupEnvironment(s: BackupSettings, project: string): Record<string, string> {
    return {
        [BACKUP_ENV.dir]: s.dir,
        [BACKUP_ENV.retention]: String(s.retention),
        [BACKUP_ENV.preMigration]: s.preMigration ? "true" : "false",
        [BACKUP_ENV.project]: project,
    };
}

/** The settings back from the environment the Migration step set; throws naming the bad variable. */
export function backupSettingsFromEnv(env: NodeJS.ProcessEnv): BackupSettings {
    const retentionRaw = env[BACKUP_ENV.retention] ?? String(BACKUP_DEFAULTS.retention);
    const why = retentionProblem(retentionRaw);
    if (why) throw new Error(`${BACKUP_ENV.retention} ${why}; fix cartie:backupRetention`);
    const switchRaw = env[BACKUP_ENV.preMigration] ?? "true";
    const preMigration = parseSwitch(switchRaw);
    if (preMigration === undefined) throw new Error(`${BACKUP_ENV.preMigration} "${switchRaw}" is neither true nor false; fix cartie:preMigrationBackup`);
    return { dir: env[BACKUP_ENV.dir] || BACKUP_DEFAULTS.dir, retention: Number(retentionRaw), preMigration };
}
