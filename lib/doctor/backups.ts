/** The doctor's look at the backups folder: the newest complete backup, and a warning when there is none. */
import * as path from "node:path";
import { completeBackups, humanBytes, totalRows } from "../backup/manifest";
import { readManifests, sizeIn } from "../backup/store";
import { BackupStatus, DoctorBackups, DoctorReport } from "./types";

export type { BackupStatus, DoctorBackups } from "./types";

/** The newest complete backup of any of `projects` (the stack's, and a legacy project's taken by the takeover). */
export function readBackupStatus(dir: string, projects: string[]): BackupStatus {
    const newest = completeBackups(
        readManifests(dir).filter((m) => projects.includes(m.project)),
        sizeIn(dir),
    )[0];
    return { dir, ...(newest ? { newest: { file: newest.file, reason: newest.reason, takenAt: newest.takenAt, bytes: newest.bytes, rows: totalRows(newest.rowCounts) } } : {}) };
}

/**
 * The report with the backup status. No backup is a warning beside the findings, not one of them:
 * it says nothing about whether the platform runs, so it never changes the verdict or the exit code.
 */
export function withBackupStatus(report: DoctorReport, status: BackupStatus): DoctorReport {
    const warning = status.newest
        ? undefined
        : "no complete backup of this stack's database: take one now with `npm run backup` and copy it off this host (README: Backups and recovery)";
    return { ...report, backups: { ...status, ...(warning ? { warning } : {}) } };
}

export function renderBackupStatus(status: DoctorBackups): string {
    const n = status.newest;
    if (n) return `Newest backup: ${path.join(status.dir, n.file)} (${n.reason}, ${n.takenAt}, ${humanBytes(n.bytes)}, ${n.rows} rows)`;
    return `Newest backup: none in ${status.dir}${status.warning ? `\n  [warn] ${status.warning}` : ""}`;
}
