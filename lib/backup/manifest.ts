/**
 * Pure parts of a backup, shared by the takeover, the pre-migration step and the backup CLIs:
 * file names that sort by time and say why, row counts read from the dump itself (so they
 * describe exactly what the file holds), the manifest that marks a backup complete, the check
 * of a dump against the live counts, and retention.
 */

/** Why a backup was taken; it is part of the file name. */
export const BACKUP_REASONS = ["pre-migration", "takeover", "manual"] as const;
export type BackupReason = (typeof BACKUP_REASONS)[number];

/** Written next to the dump once it is complete; a dump without one is not a backup. */
export interface BackupManifest {
    /** Whose data: the platform's name prefix (`cartie-dev`) or a legacy compose project (`infra2`). */
    project: string;
    reason: BackupReason;
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
    /**
     * Whether the dump's row counts were checked against live counts taken in the same snapshot
     * (the takeover's dump of a legacy host is not; every platform backup is).
     */
    verifiedAgainstLive: boolean;
    /** What the backup was taken before, e.g. the pending migrations. */
    note?: string;
}

/** `20261125T194002Z`: UTC, sorts as text, safe in any file system. */
export function timeStamp(at: Date): string {
    return at.toISOString().replace(/\.\d+Z$/, "Z").replace(/[-:]/g, "");
}

/** `20261125T194002Z-pre-migration-cartie-dev`: sorts by time, then says why and whose. */
export function backupBaseName(project: string, reason: BackupReason, at: Date): string {
    return `${timeStamp(at)}-${reason}-${project}`;
}

/** An identifier as pg_dump writes it: bare, or double-quoted with `""` for a quote inside. */
const IDENT = String.raw`("(?:[^"]|"")*"|[^\s."(]+)`;
const COPY_LINE = new RegExp(String.raw`^COPY ${IDENT}(?:\.${IDENT})? (?:\(.*\) )?FROM stdin;$`);

function unquoteIdent(part: string): string {
    return part.startsWith('"') ? part.slice(1, -1).replace(/""/g, '"') : part;
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
        const m = COPY_LINE.exec(line);
        if (m) {
            this.current = [m[1], m[2]].filter((p) => p !== undefined).map(unquoteIdent).join(".");
            this.counts[this.current] = this.counts[this.current] ?? 0;
        }
    }

    /** True when the dump ended inside a COPY block: it is truncated. */
    get unterminated(): boolean {
        return this.current !== undefined;
    }
}

/** The line pg_dump writes last; a dump without it was cut short. */
export const DUMP_END_MARKER = "-- PostgreSQL database dump complete";

/** Differences between the rows a dump holds and the rows the database held, one line each; empty when equal. */
export function compareRowCounts(inDump: Record<string, number>, live: Record<string, number>): string[] {
    const tables = [...new Set([...Object.keys(inDump), ...Object.keys(live)])].sort();
    const out: string[] = [];
    for (const t of tables) {
        const d = inDump[t];
        const l = live[t];
        if (d === undefined) out.push(`${t}: ${l} row(s) in the database, missing from the dump`);
        else if (l === undefined) out.push(`${t}: ${d} row(s) in the dump, no such table in the database`);
        else if (d !== l) out.push(`${t}: ${d} row(s) in the dump, ${l} in the database`);
    }
    return out;
}

export function totalRows(counts: Record<string, number>): number {
    return Object.values(counts).reduce((a, b) => a + b, 0);
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

const byNewest = (a: BackupManifest, b: BackupManifest): number => (a.takenAt < b.takenAt ? 1 : a.takenAt > b.takenAt ? -1 : a.file < b.file ? 1 : -1);

/** Complete backups: the dump is on disk with the size the manifest recorded. Newest first. */
export function completeBackups(manifests: BackupManifest[], sizeOnDisk: (file: string) => number | undefined): BackupManifest[] {
    return manifests.filter((m) => sizeOnDisk(m.file) === m.bytes).sort(byNewest);
}

/** The newest complete backup of the project, given the manifests found and the dump sizes on disk. */
export function latestCompleteBackup(project: string, manifests: BackupManifest[], sizeOnDisk: (file: string) => number | undefined): BackupManifest | undefined {
    return completeBackups(
        manifests.filter((m) => m.project === project),
        sizeOnDisk,
    )[0];
}

/**
 * A manifest read from disk, or undefined when it is not one. Manifests written by the takeover
 * before backups had reasons are takeover backups.
 */
export function parseManifest(json: unknown): BackupManifest | undefined {
    if (json === null || typeof json !== "object") return undefined;
    const m = json as Partial<BackupManifest>;
    if (typeof m.file !== "string" || typeof m.bytes !== "number" || typeof m.takenAt !== "string" || typeof m.project !== "string") return undefined;
    const reason = BACKUP_REASONS.includes(m.reason as BackupReason) ? (m.reason as BackupReason) : "takeover";
    return {
        project: m.project,
        reason,
        file: m.file,
        bytes: m.bytes,
        sha256: typeof m.sha256 === "string" ? m.sha256 : "",
        takenAt: m.takenAt,
        container: m.container ?? "",
        user: m.user ?? "",
        database: m.database ?? "",
        rowCounts: m.rowCounts ?? {},
        verifiedAgainstLive: m.verifiedAgainstLive ?? false,
        ...(m.note ? { note: m.note } : {}),
    };
}

/**
 * Which backups retention removes: of each project's pre-migration backups only the newest
 * `keep` stay. Never a takeover or manual backup, and never the newest complete backup of a
 * project, whatever its reason.
 */
export function retentionVictims(manifests: BackupManifest[], keep: number, sizeOnDisk: (file: string) => number | undefined): BackupManifest[] {
    const complete = completeBackups(manifests, sizeOnDisk);
    const newestOf = new Map<string, BackupManifest>();
    for (const m of complete) if (!newestOf.has(m.project)) newestOf.set(m.project, m);
    const victims: BackupManifest[] = [];
    for (const project of new Set(manifests.map((m) => m.project))) {
        const pre = manifests.filter((m) => m.project === project && m.reason === "pre-migration").sort(byNewest);
        for (const m of pre.slice(Math.max(0, keep))) if (newestOf.get(project) !== m) victims.push(m);
    }
    return victims;
}

export interface BackupListing {
    manifest: BackupManifest;
    /** The dump is on disk with the recorded size. */
    complete: boolean;
}

/** The table `npm run backups` prints, newest first. */
export function renderBackupList(entries: BackupListing[], dir: string): string {
    if (entries.length === 0) return `no backups in ${dir}`;
    const rows = [["TAKEN (UTC)", "REASON", "PROJECT", "SIZE", "ROWS", "TABLES", "FILE"]];
    for (const e of [...entries].sort((a, b) => byNewest(a.manifest, b.manifest))) {
        const m = e.manifest;
        rows.push([
            m.takenAt.replace(/\.\d+Z$/, "Z"),
            m.reason,
            m.project,
            e.complete ? humanBytes(m.bytes) : "INCOMPLETE (dump missing or cut)",
            String(totalRows(m.rowCounts)),
            String(Object.keys(m.rowCounts).length),
            m.file,
        ]);
    }
    const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
    return [`backups in ${dir}:`, ...rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]))).join("  "))].join("\n");
}
