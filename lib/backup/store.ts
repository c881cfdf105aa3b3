/**
 * The backups folder on disk: writing a backup so that a dump cut short is never taken for one
 * (hidden partial file, checked, then hard-linked to its final name with its manifest), reading
 * the manifests back, and retention. Where the bytes come from is the caller's `dump`.
 */
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import * as readline from "node:readline";
import {
    BackupListing,
    BackupManifest,
    BackupReason,
    DUMP_END_MARKER,
    DumpRowCounter,
    backupBaseName,
    compareRowCounts,
    completeBackups,
    humanBytes,
    parseManifest,
    renderRowCounts,
    retentionVictims,
} from "./manifest";
import type { StoppedJournal } from "./restore";

/** A backup that could not be taken or did not verify; the message names the cause and the fix. */
export class BackupError extends Error {
    constructor(message: string) {
        super(message);
        this.name = "BackupError";
    }
}

/** Manifests in the folder (unreadable or foreign JSON files are skipped). */
export function readManifests(dir: string): BackupManifest[] {
    if (!fs.existsSync(dir)) return [];
    return fs
        .readdirSync(dir)
        .filter((f) => f.endsWith(".json") && !f.startsWith("."))
        .flatMap((f) => {
            try {
                const m = parseManifest(JSON.parse(fs.readFileSync(path.join(dir, f), "utf8")));
                return m ? [m] : [];
            } catch {
                return [];
            }
        });
}

/**
 * The newest pre-migration backup of `project` taken before `migration` (its note names the
 * migrations it was taken before), else the newest pre-migration backup of `project`; the file's
 * path as a person types it for `npm run restore-backup`.
 */
export function backupBeforeMigration(dir: string, project: string, migration: string, shownDir: string = dir): { file: string; takenAt: string } | undefined {
    const mine = readManifests(dir)
        .filter((m) => m.project === project && m.reason === "pre-migration")
        .sort((a, b) => b.takenAt.localeCompare(a.takenAt));
    const m = mine.find((x) => (x.note ?? "").includes(migration)) ?? mine[0];
    return m ? { file: path.join(shownDir, m.file), takenAt: m.takenAt } : undefined;
}

export function sizeIn(dir: string): (file: string) => number | undefined {
    return (file) => {
        try {
            return fs.statSync(path.join(dir, file)).size;
        } catch {
            return undefined;
        }
    };
}

/** Every backup of the folder with whether its dump is complete on disk. */
export function listBackups(dir: string): BackupListing[] {
    const manifests = readManifests(dir);
    const complete = new Set(completeBackups(manifests, sizeIn(dir)));
    return manifests.map((manifest) => ({ manifest, complete: complete.has(manifest) }));
}

export interface DumpScan {
    counts: Record<string, number>;
    /** pg_dump's end marker is there and no COPY block is left open. */
    complete: boolean;
    sha256: string;
    bytes: number;
}

/** Reads a plain dump back from disk: its rows per table, whether it is whole, its sha256. */
export async function scanDump(file: string): Promise<DumpScan> {
    const hash = crypto.createHash("sha256");
    const counter = new DumpRowCounter();
    let complete = false;
    let bytes = 0;
    const stream = fs.createReadStream(file);
    stream.on("data", (d) => {
        hash.update(d);
        bytes += d.length;
    });
    for await (const line of readline.createInterface({ input: stream, crlfDelay: Infinity })) {
        counter.feed(line);
        if (line.startsWith(DUMP_END_MARKER)) complete = true;
    }
    return { counts: counter.counts, complete: complete && !counter.unterminated, sha256: hash.digest("hex"), bytes };
}

/** Hard-links `from` to a new name that does not exist yet (`base.ext`, `base-2.ext`, …): never overwrites. */
export function linkNew(from: string, dir: string, base: string, ext: string): string {
    for (let i = 1; ; i++) {
        const name = `${base}${i === 1 ? "" : `-${i}`}${ext}`;
        try {
            fs.linkSync(from, path.join(dir, name));
            return name;
        } catch (err) {
            if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
        }
    }
}

/** A file-system error in words an on-call person acts on. */
export function explainWriteFailure(err: unknown, dir: string): string {
    const e = err as NodeJS.ErrnoException;
    const text = `${e.code ?? ""} ${e.message ?? String(err)}`;
    const setting = "or set `cartie:backupDir` to another folder";
    if (/ENOSPC|no space left/i.test(text)) return `the backup folder ${dir} is full (no space left on device): free space there ${setting}`;
    if (/EDQUOT|quota/i.test(text)) return `the backup folder ${dir} is over its disk quota: free space there ${setting}`;
    if (/EROFS|read-only file system/i.test(text)) return `the backup folder ${dir} is on a read-only file system: remount it writable ${setting}`;
    if (/EACCES|EPERM|permission denied/i.test(text)) return `the backup folder ${dir} is not writable by this user: fix its permissions ${setting}`;
    return `writing to the backup folder ${dir} failed: ${e.message ?? String(err)}`;
}

export interface WriteBackupOptions {
    dir: string;
    project: string;
    reason: BackupReason;
    container: string;
    user: string;
    database: string;
    note?: string;
    /**
     * Writes a plain-format pg_dump into `outFile` (which it creates, readable by its owner only).
     * Returns the live row counts taken in the dump's own snapshot, when it took them: the dump
     * must then hold exactly those.
     */
    dump(outFile: string): Promise<Record<string, number> | undefined>;
    now?: () => Date;
    log?: (line: string) => void;
}

/**
 * Takes one backup into the folder and verifies it before it counts: the dump finished, is not
 * truncated, and (when live counts were taken) holds exactly the live rows of every table.
 * Only then are the dump and its manifest linked under their final names.
 */
export async function writeBackup(o: WriteBackupOptions): Promise<BackupManifest> {
    const now = o.now ?? (() => new Date());
    const log = o.log ?? (() => undefined);
    try {
        fs.mkdirSync(o.dir, { recursive: true, mode: 0o700 });
        fs.accessSync(o.dir, fs.constants.W_OK);
    } catch (err) {
        throw new BackupError(`backup not taken: ${explainWriteFailure(err, o.dir)}`);
    }
    const base = backupBaseName(o.project, o.reason, now());
    // Written under a hidden name first: a dump cut short is never taken for a backup.
    const partial = path.join(o.dir, `.${base}-${process.pid}.sql.partial`);
    const tmpManifest = `${partial}.json`;
    try {
        let live: Record<string, number> | undefined;
        try {
            live = await o.dump(partial);
        } catch (err) {
            const e = err as NodeJS.ErrnoException;
            const fsProblem = e.code !== undefined || /no space left|read-only file system|permission denied|quota/i.test(e.message);
            throw new BackupError(`backup not taken: ${fsProblem ? explainWriteFailure(err, o.dir) : e.message}`);
        }
        const scan = await scanDump(partial);
        if (!scan.complete) throw new BackupError(`backup not taken: the dump is incomplete (no end marker, or cut inside a table's data): not a backup`);
        if (live) {
            const diff = compareRowCounts(scan.counts, live);
            if (diff.length > 0) throw new BackupError(`backup did not verify: the rows in the dump differ from the database in the same snapshot:\n  ${diff.join("\n  ")}`);
        }
        const file = linkNew(partial, o.dir, base, ".sql");
        const manifest: BackupManifest = {
            project: o.project,
            reason: o.reason,
            file,
            bytes: scan.bytes,
            sha256: scan.sha256,
            takenAt: now().toISOString(),
            container: o.container,
            user: o.user,
            database: o.database,
            rowCounts: scan.counts,
            verifiedAgainstLive: live !== undefined,
            ...(o.note ? { note: o.note } : {}),
        };
        try {
            fs.writeFileSync(tmpManifest, `${JSON.stringify(manifest, null, 2)}\n`, { mode: 0o600 });
            linkNew(tmpManifest, o.dir, file.replace(/\.sql$/, ""), ".json");
        } catch (err) {
            fs.rmSync(path.join(o.dir, file), { force: true });
            throw new BackupError(`backup not taken: ${explainWriteFailure(err, o.dir)}`);
        }
        log(`backup: wrote ${path.join(o.dir, file)} (${humanBytes(scan.bytes)}, sha256 ${scan.sha256.slice(0, 16)}…)`);
        log(`backup: rows per table${live ? " (equal to the live counts in the same snapshot)" : ""}: ${renderRowCounts(scan.counts)}`);
        return manifest;
    } finally {
        fs.rmSync(partial, { force: true });
        fs.rmSync(tmpManifest, { force: true });
    }
}

/** Removes what retention says (dump first, then its manifest); returns the files removed. */
export function applyRetention(dir: string, keep: number, log: (line: string) => void = () => undefined): string[] {
    const victims = retentionVictims(readManifests(dir), keep, sizeIn(dir));
    for (const m of victims) {
        fs.rmSync(path.join(dir, m.file), { force: true });
        fs.rmSync(path.join(dir, m.file.replace(/\.sql$/, ".json")), { force: true });
        log(`backup: retention (keep ${keep} pre-migration backups) removed ${m.file}`);
    }
    return victims.map((m) => m.file);
}

/**
 * Checks a dump against its manifest before it is restored: the manifest next to it, the same
 * size and sha256, whole. Returns the manifest or throws naming what is wrong.
 */
export async function checkAgainstManifest(dumpFile: string): Promise<BackupManifest> {
    const dir = path.dirname(dumpFile);
    const manifestFile = dumpFile.replace(/\.sql$/, ".json");
    if (!fs.existsSync(dumpFile)) throw new BackupError(`${dumpFile} does not exist; \`npm run backups\` lists the backups`);
    if (!dumpFile.endsWith(".sql") || !fs.existsSync(manifestFile)) throw new BackupError(`${dumpFile} has no manifest (${path.basename(manifestFile)}) next to it: it is not a complete backup of this program`);
    let manifest: BackupManifest | undefined;
    try {
        manifest = parseManifest(JSON.parse(fs.readFileSync(manifestFile, "utf8")));
    } catch {
        manifest = undefined;
    }
    if (!manifest || path.join(dir, manifest.file) !== path.join(dir, path.basename(dumpFile))) throw new BackupError(`${manifestFile} is not the manifest of ${path.basename(dumpFile)}`);
    const scan = await scanDump(dumpFile);
    if (scan.bytes !== manifest.bytes || scan.sha256 !== manifest.sha256) {
        throw new BackupError(`${dumpFile} changed since it was taken (size ${scan.bytes} vs ${manifest.bytes}, sha256 ${scan.sha256.slice(0, 12)}… vs ${manifest.sha256.slice(0, 12)}…): restore another backup`);
    }
    if (!scan.complete) throw new BackupError(`${dumpFile} is incomplete (no end marker): restore another backup`);
    return manifest;
}

/** The restore's list of api containers it stopped, kept in the backups folder until it starts them again. */
export function fileJournal(dir: string): StoppedJournal {
    const file = path.join(dir, ".restore-stopped-apis.json");
    return {
        read() {
            try {
                const v = JSON.parse(fs.readFileSync(file, "utf8")) as unknown;
                return Array.isArray(v) ? v.filter((x): x is string => typeof x === "string") : [];
            } catch {
                return [];
            }
        },
        write(containers) {
            fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
            fs.writeFileSync(file, `${JSON.stringify(containers)}\n`, { mode: 0o600 });
        },
        clear() {
            fs.rmSync(file, { force: true });
        },
    };
}
