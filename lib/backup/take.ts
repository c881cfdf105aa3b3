/** Backups of the platform's own database: on demand and before a migration changes anything. */
import * as path from "node:path";
import type { ChangingPlan } from "../migration/run";
import { BackupManifest, BackupReason } from "./manifest";
import { DbInContainer, dumpWithLiveCounts } from "./postgres";
import { BackupSettings } from "./settings";
import { applyRetention, writeBackup } from "./store";

export interface PlatformBackupOptions {
    db: DbInContainer;
    /** Absolute folder of the backups. */
    dir: string;
    project: string;
    reason: BackupReason;
    note?: string;
    log?: (line: string) => void;
    now?: () => Date;
}

/** pg_dump and the live row counts in one snapshot, written and verified (see `writeBackup`). */
export function takePlatformBackup(o: PlatformBackupOptions): Promise<BackupManifest> {
    return writeBackup({
        dir: o.dir,
        project: o.project,
        reason: o.reason,
        container: o.db.container,
        user: o.db.user,
        database: o.db.database,
        note: o.note,
        log: o.log,
        now: o.now,
        dump: (outFile) => dumpWithLiveCounts(o.db, outFile),
    });
}

/**
 * The Migration step's `beforeChanges`: a verified pre-migration backup, then retention. With
 * pre-migration backups switched off it only says so.
 */
export function preMigrationBackup(settings: BackupSettings, db: DbInContainer, project: string, projectDir: string = process.cwd()): (plan: ChangingPlan, log: (line: string) => void) => Promise<void> {
    return async (plan, log) => {
        if (!settings.preMigration) {
            log("backup: pre-migration backups are switched off (cartie:preMigrationBackup=false): migrating without one");
            return;
        }
        const dir = path.resolve(projectDir, settings.dir);
        log(`backup: taking a pre-migration backup of ${db.database} into ${dir} before anything changes`);
        await takePlatformBackup({ db, dir, project, reason: "pre-migration", note: `before: ${plan.summary}`, log });
        applyRetention(dir, settings.retention, log);
    };
}
