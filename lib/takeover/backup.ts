/**
 * Pure parts of the backup: file names, row counts read from the dump itself (so they describe
 * exactly what the file holds), the manifest that marks a backup complete, and the decisions of
 * the backup and takeover steps from the plan and the backups already on disk.
 */
import { TakeoverPlan } from "./plan";

/** Written next to the dump once it is complete; a dump without one is not a backup. */
export interface BackupManifest {
    project: string;
    /** File name of the dump, in the same folder. */
    file: string;
    bytes: number;
    sha256: string;
    /** ISO time the dump finished. */
    takenAt: string;
    container: string;
    user: string;
    database: string;
    /** `schema.table` → rows in the dump. */
    rowCounts: Record<string, number>;
}

/** `infra2-20261125T194002Z`: sorts by time, safe in any file system. */
export function backupBaseName(project: string, at: Date): string {
    const stamp = at.toISOString().replace(/\.\d+Z$/, "Z").replace(/[-:]/g, "");
    return `${project}-${stamp}`;
}

/**
 * Counts the rows of each table in a plain-format pg_dump, fed line by line: rows are the lines
 * between `COPY schema.table (…) FROM stdin;` and `\.` (COPY's text format escapes newlines).
 */
export class DumpRowCounter {
    readonly counts: Record<string, number> = {};
    private current: string | undefined;

    feed(line: string): void {
        if (this.current !== undefined) {
            if (line === "\\.") this.current = undefined;
            else this.counts[this.current]++;
            return;
        }
        const m = /^COPY (\S+(?:\.\S+)?) (?:\([^)]*\) )?FROM stdin;$/.exec(line);
        if (m) {
            this.current = m[1].replace(/"/g, "");
            this.counts[this.current] = this.counts[this.current] ?? 0;
        }
    }

    /** True when the dump ended inside a COPY block: it is truncated. */
    get unterminated(): boolean {
        return this.current !== undefined;
    }
}

export function renderRowCounts(counts: Record<string, number>): string {
    const names = Object.keys(counts).sort();
    if (names.length === 0) return "no tables";
    return names.map((n) => `${n}=${counts[n]}`).join(", ");
}

export function humanBytes(n: number): string {
    if (n < 1024) return `${n} B`;
    if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
    if (n < 1024 ** 3) return `${(n / 1024 ** 2).toFixed(1)} MiB`;
    return `${(n / 1024 ** 3).toFixed(2)} GiB`;
}

/** The newest complete backup of the project, given the manifests found and the dump sizes on disk. */
export function latestCompleteBackup(project: string, manifests: BackupManifest[], sizeOnDisk: (file: string) => number | undefined): BackupManifest | undefined {
    return manifests
        .filter((m) => m.project === project && sizeOnDisk(m.file) === m.bytes)
        .sort((a, b) => (a.takenAt < b.takenAt ? 1 : a.takenAt > b.takenAt ? -1 : 0))[0];
}

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
