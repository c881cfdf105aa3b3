import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { Worker } from "node:worker_threads";

/**
 * The two halves of a fast context digest: hashing file contents off the main thread, and a
 * cache of content hashes so a second digest only reads the files that changed.
 *
 * Why the cache can never change a digest (see docs/bench.md for the long form):
 * - It maps a file's identity and change stamps, (size, mtime, ctime, inode, device), to the
 *   sha256 of its content. Any write to a file moves its ctime to "now" (ctime cannot be set from
 *   user space: `touch -d`, `cp -p`, `tar x`, `git checkout` may restore an old mtime but still
 *   move ctime), and replacing a file by rename gives another inode. So a file whose stamps all
 *   equal the cached ones has not been written since they were taken.
 * - "Racy" entries are never stored (git's racy-clean rule). A write within the same clock tick
 *   as our stat (or our read) leaves the stamps unchanged on a filesystem with coarse timestamps
 *   (ext4 ticks at the kernel's coarse clock; FAT keeps 2 s; some network filesystems 1 s). An entry
 *   is stored only when max(mtime, ctime) is older than the digest's start minus RACY_MARGIN_MS,
 *   so any later write stamps a ctime strictly newer than the cached one. A file changed within
 *   the last seconds is simply hashed again next time.
 * - Directory listings are cached the same way, keyed on the directory's own stamps: creating,
 *   deleting or renaming an entry moves the directory's mtime and ctime, so an unchanged stamp
 *   means the same names, and with the same `.dockerignore` patterns (their digest is part of the
 *   cache key) the same decisions. The racy rule applies to directories too. A file's content
 *   never changes its directory's stamps, which is why every sent file is still stat'ed.
 * - The cache is only ever a hint: a missing, unreadable, corrupt or foreign cache file is
 *   ignored and rewritten; it is written to a temporary name and renamed, so readers see a whole
 *   file or none.
 */

/** Older than this (relative to the digest's start) a stat is trusted; see above. */
export const RACY_MARGIN_MS = 3000;

const CACHE_FORMAT = 3;

export interface FileStamp {
    size: number;
    mtimeMs: number;
    ctimeMs: number;
    ino: number;
    dev: number;
}

interface CachedHash extends FileStamp {
    hash: string;
}

/** One entry of a directory as the walk decided it: its type, and whether `.dockerignore` excludes it. */
export interface ListedChild {
    name: string;
    type: "dir" | "file" | "symlink" | "other";
    ignored: boolean;
}

interface CachedListing extends FileStamp {
    children: ListedChild[];
}

const CHILD_TYPES: ListedChild["type"][] = ["dir", "file", "symlink", "other"];

function isListedChild(c: unknown): c is ListedChild {
    if (c === null || typeof c !== "object") return false;
    const o = c as Record<string, unknown>;
    return typeof o.name === "string" && CHILD_TYPES.includes(o.type as ListedChild["type"]) && typeof o.ignored === "boolean";
}

export function stampOf(st: fs.Stats): FileStamp {
    return { size: st.size, mtimeMs: st.mtimeMs, ctimeMs: st.ctimeMs, ino: st.ino, dev: st.dev };
}

export function sameStamp(a: FileStamp, b: FileStamp): boolean {
    return a.size === b.size && a.mtimeMs === b.mtimeMs && a.ctimeMs === b.ctimeMs && a.ino === b.ino && a.dev === b.dev;
}

/** True when a stat taken after `startMs` can be cached: no write can leave these stamps unchanged. */
export function isSettled(stamp: FileStamp, startMs: number, marginMs: number = RACY_MARGIN_MS): boolean {
    return Math.max(stamp.mtimeMs, stamp.ctimeMs) < startMs - marginMs;
}

/**
 * Where the cache lives by default: `<cwd>/node_modules/.cache/cartie/context-digest` (git-ignored;
 * Pulumi runs the program from the project directory). `CARTIE_DIGEST_CACHE_DIR` overrides it and
 * `CARTIE_DIGEST_CACHE=off` turns it off.
 */
export function defaultCacheDir(): string | false {
    if (process.env.CARTIE_DIGEST_CACHE === "off" || process.env.CARTIE_DIGEST_CACHE === "0") return false;
    return process.env.CARTIE_DIGEST_CACHE_DIR || path.join(process.cwd(), "node_modules", ".cache", "cartie", "context-digest");
}

export class HashCache {
    private readonly entries: Map<string, CachedHash>;
    private readonly next = new Map<string, CachedHash>();
    private readonly listings: Map<string, CachedListing>;
    private readonly nextListings = new Map<string, CachedListing>();
    private dirty: boolean;

    private constructor(
        readonly file: string | undefined,
        private readonly contextDir: string,
        private readonly patternsKey: string,
        read: { files: Map<string, CachedHash>; listings: Map<string, CachedListing> },
    ) {
        this.entries = read.files;
        this.listings = read.listings;
        this.dirty = false;
    }

    /**
     * Opens the cache for `contextDir` under `cacheDir` (false: no cache). Never throws: a cache
     * that cannot be read is an empty one. A cache directory inside the context is refused, since
     * writing there would change what Docker sends.
     */
    static open(contextDir: string, cacheDir: string | false, patterns: string[] = []): HashCache {
        // Keyed by the real path: the same context reached through a symlink shares one cache.
        const real = (p: string): string => {
            try {
                return fs.realpathSync(p);
            } catch {
                return path.resolve(p);
            }
        };
        const ctx = real(contextDir);
        const patternsKey = crypto.createHash("sha256").update(JSON.stringify(patterns)).digest("hex");
        const none = { files: new Map<string, CachedHash>(), listings: new Map<string, CachedListing>() };
        if (cacheDir === false) return new HashCache(undefined, ctx, patternsKey, none);
        const dir = real(cacheDir);
        if (dir === ctx || dir.startsWith(ctx + path.sep)) return new HashCache(undefined, ctx, patternsKey, none);
        const file = path.join(dir, `${crypto.createHash("sha256").update(ctx).digest("hex").slice(0, 32)}.json`);
        return new HashCache(file, ctx, patternsKey, HashCache.read(file, ctx, patternsKey));
    }

    /**
     * File format: one JSON header line `{format, context, patterns, files, dirs, sha256}`, then
     * one line per file `rel \t size \t mtimeMs \t ctimeMs \t ino \t dev \t hash`, then one
     * line per directory `rel \t size \t mtimeMs \t ctimeMs \t ino \t dev \t children-json`.
     * The header's sha256 covers the body, so a truncated or damaged file is rejected whole rather
     * than trusted in part; listings made under other `.dockerignore` patterns are dropped.
     */
    private static read(file: string, ctx: string, patternsKey: string): { files: Map<string, CachedHash>; listings: Map<string, CachedListing> } {
        const files = new Map<string, CachedHash>();
        const listings = new Map<string, CachedListing>();
        const empty = { files: new Map<string, CachedHash>(), listings: new Map<string, CachedListing>() };
        let text: string;
        try {
            text = fs.readFileSync(file, "utf8");
        } catch {
            return empty;
        }
        const nl = text.indexOf("\n");
        if (nl < 0) return empty;
        let header: unknown;
        try {
            header = JSON.parse(text.slice(0, nl));
        } catch {
            return empty;
        }
        if (header === null || typeof header !== "object") return empty;
        const o = header as { format?: unknown; context?: unknown; patterns?: unknown; files?: unknown; dirs?: unknown; sha256?: unknown };
        const body = text.slice(nl + 1);
        if (o.format !== CACHE_FORMAT || o.context !== ctx || typeof o.files !== "number" || typeof o.dirs !== "number") return empty;
        if (o.sha256 !== crypto.createHash("sha256").update(body).digest("hex")) return empty;
        const lines = body.split("\n");
        if (lines.pop() !== "" || lines.length !== o.files + o.dirs) return empty;
        for (let i = 0; i < lines.length; i++) {
            const f = lines[i].split("\t");
            if (f.length !== 7) return empty;
            const stamp: FileStamp = { size: Number(f[1]), mtimeMs: Number(f[2]), ctimeMs: Number(f[3]), ino: Number(f[4]), dev: Number(f[5]) };
            if (!Object.values(stamp).every(Number.isFinite)) return empty;
            if (i < o.files) {
                if (f[6].length !== 64) return empty;
                files.set(f[0], { ...stamp, hash: f[6] });
            } else if (o.patterns === patternsKey) {
                let children: unknown;
                try {
                    children = JSON.parse(f[6]);
                } catch {
                    return empty;
                }
                if (!Array.isArray(children) || !children.every(isListedChild)) return empty;
                listings.set(f[0], { ...stamp, children });
            }
        }
        return { files, listings };
    }

    /** The cached hash of `rel` if its stamps are exactly the ones cached, else undefined. */
    lookup(rel: string, stamp: FileStamp): string | undefined {
        const hit = this.entries.get(rel);
        if (hit === undefined || !sameStamp(hit, stamp)) return undefined;
        this.next.set(rel, hit);
        return hit.hash;
    }

    /** Records a freshly computed hash; stored only when the stamp is settled (see isSettled). */
    record(rel: string, stamp: FileStamp, hash: string, startMs: number, marginMs: number): void {
        if (!isSettled(stamp, startMs, marginMs)) return;
        this.next.set(rel, { ...stamp, hash });
        this.dirty = true;
    }

    /** The cached children of directory `rel` if the directory's stamps are exactly the ones cached. */
    listing(rel: string, stamp: FileStamp): ListedChild[] | undefined {
        const hit = this.listings.get(rel);
        if (hit === undefined || !sameStamp(hit, stamp)) return undefined;
        this.nextListings.set(rel, hit);
        return hit.children;
    }

    /** Records a directory's children as just listed; stored only when its stamp is settled. */
    recordListing(rel: string, stamp: FileStamp, children: ListedChild[], startMs: number, marginMs: number): void {
        if (!isSettled(stamp, startMs, marginMs)) return;
        this.nextListings.set(rel, { ...stamp, children });
        this.dirty = true;
    }

    /**
     * Writes the entries used or recorded in this digest, dropping those of deleted or changed
     * files, if that differs from what was read. Nothing settled, nothing written: a scratch
     * context leaves no cache file behind.
     */
    save(): void {
        if (this.file === undefined) return;
        if (!this.dirty && this.next.size === this.entries.size && this.nextListings.size === this.listings.size) return;
        const stamp = (e: FileStamp): string => `${e.size}\t${e.mtimeMs}\t${e.ctimeMs}\t${e.ino}\t${e.dev}`;
        // Names with a tab or newline are rare enough to just not cache.
        const fileRows: string[] = [];
        for (const [rel, e] of this.next) if (!/[\t\n]/.test(rel)) fileRows.push(`${rel}\t${stamp(e)}\t${e.hash}\n`);
        const dirRows: string[] = [];
        for (const [rel, e] of this.nextListings) if (!/[\t\n]/.test(rel)) dirRows.push(`${rel}\t${stamp(e)}\t${JSON.stringify(e.children)}\n`);
        const body = fileRows.join("") + dirRows.join("");
        const header = {
            format: CACHE_FORMAT,
            context: this.contextDir,
            patterns: this.patternsKey,
            files: fileRows.length,
            dirs: dirRows.length,
            sha256: crypto.createHash("sha256").update(body).digest("hex"),
        };
        const tmp = `${this.file}.${process.pid}.${crypto.randomBytes(4).toString("hex")}.tmp`;
        try {
            fs.mkdirSync(path.dirname(this.file), { recursive: true });
            fs.writeFileSync(tmp, `${JSON.stringify(header)}\n${body}`);
            fs.renameSync(tmp, this.file);
        } catch {
            // A cache that cannot be written is only a slower next digest.
            fs.rmSync(tmp, { force: true });
        }
    }
}

/** Reads a whole file through `buf`, hashing it (or only reading it, for the benchmark's floor). */
export function hashFileSync(abs: string, buf: Buffer, hash: boolean): { hash: string; size: number } {
    const fd = fs.openSync(abs, "r");
    try {
        const h = hash ? crypto.createHash("sha256") : undefined;
        let size = 0;
        for (;;) {
            const n = fs.readSync(fd, buf, 0, buf.length, null);
            if (n === 0) break;
            size += n;
            h?.update(n === buf.length ? buf : buf.subarray(0, n));
        }
        return { hash: h ? h.digest("hex") : "", size };
    } finally {
        fs.closeSync(fd);
    }
}

// The worker: plain JavaScript (it runs without tsx), the same loop as hashFileSync.
const WORKER_SOURCE = `
const { parentPort } = require("node:worker_threads");
const fs = require("node:fs");
const crypto = require("node:crypto");
const buf = Buffer.allocUnsafe(1 << 20);
parentPort.on("message", (m) => {
    const hashes = new Array(m.paths.length);
    const sizes = new Array(m.paths.length);
    try {
        for (let i = 0; i < m.paths.length; i++) {
            const fd = fs.openSync(m.paths[i], "r");
            try {
                const h = m.hash ? crypto.createHash("sha256") : undefined;
                let size = 0;
                for (;;) {
                    const n = fs.readSync(fd, buf, 0, buf.length, null);
                    if (n === 0) break;
                    size += n;
                    if (h) h.update(n === buf.length ? buf : buf.subarray(0, n));
                }
                hashes[i] = h ? h.digest("hex") : "";
                sizes[i] = size;
            } finally {
                fs.closeSync(fd);
            }
        }
        parentPort.postMessage({ id: m.id, hashes, sizes });
    } catch (err) {
        parentPort.postMessage({ id: m.id, error: String(err && err.message || err) });
    }
});
`;

interface WorkerReply {
    id: number;
    hashes?: string[];
    sizes?: number[];
    error?: string;
}

/** Below this much pending work the main thread hashes inline: a worker costs ~20 ms to start. */
const POOL_MIN_BYTES = 24 << 20;
const POOL_MIN_FILES = 3000;
const BATCH_BYTES = 2 << 20;
const BATCH_FILES = 128;

/**
 * Hashes files as the walk finds them. Small jobs are hashed on the main thread after the walk;
 * once enough work is queued, a pool of worker threads (one per core) starts and takes batches
 * while the walk goes on, so reading and hashing overlap the listing and each other.
 */
export class FileHasher {
    private pending: { abs: string; size: number; done: (hash: string, size: number) => void }[] = [];
    private pendingBytes = 0;
    private workers: Worker[] = [];
    private load: number[] = [];
    private inflight = new Map<number, { worker: number; bytes: number; resolve: (r: WorkerReply) => void; reject: (e: Error) => void }>();
    private batches: Promise<void>[] = [];
    private nextId = 0;
    private buf: Buffer | undefined;

    constructor(
        private readonly hash: boolean = true,
        private readonly threads: number = Math.max(1, Math.min(os.availableParallelism(), 8)),
    ) {}

    /** Queues a file; `done` is called with its hash and the bytes read before `finish` resolves. */
    add(abs: string, size: number, done: (hash: string, size: number) => void): void {
        this.pending.push({ abs, size, done });
        this.pendingBytes += size;
        if (this.workers.length === 0 && (this.pendingBytes >= POOL_MIN_BYTES || this.pending.length >= POOL_MIN_FILES)) this.startPool();
        if (this.workers.length > 0 && (this.pendingBytes >= BATCH_BYTES || this.pending.length >= BATCH_FILES)) this.flush();
    }

    private startPool(): void {
        for (let i = 0; i < this.threads; i++) {
            const w = new Worker(WORKER_SOURCE, { eval: true });
            w.on("message", (r: WorkerReply) => {
                const job = this.inflight.get(r.id);
                if (job === undefined) return;
                this.inflight.delete(r.id);
                this.load[job.worker] -= job.bytes;
                job.resolve(r);
            });
            w.on("error", (err) => {
                for (const [id, job] of this.inflight) {
                    if (job.worker !== i) continue;
                    this.inflight.delete(id);
                    job.reject(err);
                }
            });
            this.workers.push(w);
            this.load.push(0);
        }
    }

    private flush(): void {
        if (this.pending.length === 0) return;
        const batch = this.pending;
        const bytes = this.pendingBytes;
        this.pending = [];
        this.pendingBytes = 0;
        // The least loaded worker (by bytes queued), so one large file does not stall a queue.
        let w = 0;
        for (let i = 1; i < this.load.length; i++) if (this.load[i] < this.load[w]) w = i;
        this.load[w] += bytes + batch.length * 4096;
        const id = this.nextId++;
        const reply = new Promise<WorkerReply>((resolve, reject) => this.inflight.set(id, { worker: w, bytes: bytes + batch.length * 4096, resolve, reject }));
        this.workers[w].postMessage({ id, paths: batch.map((f) => f.abs), hash: this.hash });
        this.batches.push(
            reply.then((r) => {
                if (r.error !== undefined || r.hashes === undefined || r.sizes === undefined) throw new Error(r.error ?? "hash worker failed");
                for (let i = 0; i < batch.length; i++) batch[i].done(r.hashes[i], r.sizes[i]);
            }),
        );
    }

    /** Hashes what is left and waits for every batch; always stops the workers. */
    async finish(): Promise<void> {
        try {
            if (this.workers.length > 0) this.flush();
            else {
                this.buf ??= Buffer.allocUnsafe(1 << 20);
                for (const f of this.pending) {
                    const r = hashFileSync(f.abs, this.buf, this.hash);
                    f.done(r.hash, r.size);
                }
                this.pending = [];
            }
            await Promise.all(this.batches);
        } finally {
            await Promise.all(this.workers.map((w) => w.terminate()));
            this.workers = [];
        }
    }
}
