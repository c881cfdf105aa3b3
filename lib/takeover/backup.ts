/**
 * The decisions of the takeover's backup and takeover steps from the plan and the backups already
 * on disk. The backup itself (names, manifest, row counts, writing) is lib/backup's, shared with
 * the pre-migration and manual backups.
 */
import { BackupManifest } from "../backup/manifest";
import { TakeoverPlan } from "./plan";

export type BackupDecision =
    | { kind: "none"; message: string }
    | { kind: "dump"; message: string }
    | { kind: "reuse"; message: string; manifest: BackupManifest }
    | { kind: "refuse"; message: string };

export function decideBackup(plan: TakeoverPlan, latest: BackupManifest | undefined): BackupDecision {
    if (plan.problems.length > 0) return { kind: "refuse", message: `preflight refused; nothing was backed up or changed:\n${plan.problems.map((p) => `  - ${p}`).join("\n")}` };
    if (plan.nothingLegacy) return { kind: "none", message: `nothing legacy left in compose project ${plan.project}: no backup needed (no-op)` };
    const db = plan.db;
    if (!db) return { kind: "none", message: `the legacy db of ${plan.project} is already gone: nothing to back up` };
    if (db.live) return { kind: "dump", message: `dumping the legacy database from ${db.name}` };
    if (latest) return { kind: "reuse", message: `legacy db ${db.name} is ${db.state}; the backup taken before is complete: ${latest.file} (${latest.takenAt})`, manifest: latest };
    return {
        kind: "refuse",
        message: `legacy db ${db.name} is ${db.state} and no complete backup of ${plan.project} exists: start it (\`docker start ${db.name}\`) and run the backup again; nothing was changed`,
    };
}

export type TakeoverDecision = { kind: "noop"; message: string } | { kind: "refuse"; message: string } | { kind: "go"; backup?: BackupManifest };

export function decideTakeover(plan: TakeoverPlan, latest: BackupManifest | undefined): TakeoverDecision {
    if (plan.problems.length > 0) return { kind: "refuse", message: `preflight refused; nothing was changed:\n${plan.problems.map((p) => `  - ${p}`).join("\n")}` };
    if (plan.nothingLegacy) return { kind: "noop", message: `nothing legacy left in compose project ${plan.project}: nothing to take over (no-op)` };
    if (plan.db && !latest) {
        return { kind: "refuse", message: `no complete backup of ${plan.project} exists: the backup step runs before any legacy container is touched; nothing was changed` };
    }
    return { kind: "go", backup: latest };
}
