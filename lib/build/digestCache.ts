import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { MessageChannel, MessagePort, receiveMessageOnPort, Worker } from "node:worker_threads";
import { BatchKind, BatchResult, runBatch, STAMP_FIELDS } from "./digestWorker";

/**
 * The two halves of a fast context digest: a pool that stats, reads and hashes files on worker
 * threads while the main thread walks (FilePool), and a cache of content hashes so a second
 * digest only reads the files that changed (HashCache).
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

const CACHE_FORMAT = 4;
/** Numbers per stored stamp: size, mtimeMs, ctimeMs, ino, dev. */
const STAMP_NUMBERS = 5;
const HASH_BYTES = 32;

export interface FileStamp {
    size: number;
    mtimeMs: number;
    ctimeMs: number;
    ino: number;
    dev: number;
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

// A listed child is stored as one code character and its name: lower case sent, upper case excluded.
const CHILD_CODES: Record<ListedChild["type"], string> = { dir: "d", file: "f", symlink: "l", other: "o" };
const CODE_TYPES: Record<string, ListedChild["type"]> = { d: "dir", f: "file", l: "symlink", o: "other" };

function encodeChildren(children: ListedChild[]): string {
    return children.map((c) => (c.ignored ? CHILD_CODES[c.type].toUpperCase() : CHILD_CODES[c.type]) + c.name).join("/");
}

function decodeChildren(encoded: string): ListedChild[] | undefined {
    if (encoded === "") return [];
    const out: ListedChild[] = [];
    for (const part of encoded.split("/")) {
        const code = part[0] ?? "";
        const type = CODE_TYPES[code.toLowerCase()];
        if (type === undefined || part.length < 2) return undefined;
        out.push({ name: part.slice(1), type, ignored: code !== code.toLowerCase() });
    }
    return out;
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


interface CacheHeader {
    format: number;
    endian: string;
    context: string;
    patterns: string;
    files: number;
    dirs: number;
    textBytes: number;
    sha256: string;
}

interface StoredCache {
    /** Path in the context → index into `stamps` (STAMP_NUMBERS each) and `hashes` (HASH_BYTES each). */
    files: Map<string, number>;
    stamps: Float64Array;
    hashes: Buffer;
    /** Directory path → its stamp and its encoded children (only for the current patterns). */
    dirs: Map<string, { stamp: FileStamp; encoded: string }>;
}

const EMPTY_STORE = (): StoredCache => ({ files: new Map(), stamps: new Float64Array(0), hashes: Buffer.alloc(0), dirs: new Map() });

/** The stamp at `index` of an array of `stride` numbers per entry (stored: 5; from a FilePool: 6). */
function stampFrom(values: Float64Array, index: number, stride: number = STAMP_NUMBERS): FileStamp {
    const o = index * stride;
    return { size: values[o], mtimeMs: values[o + 1], ctimeMs: values[o + 2], ino: values[o + 3], dev: values[o + 4] };
}

export class HashCache {
    private readonly stored: StoredCache;
    private readonly used: Uint8Array;
    private hex: string | undefined;
    private readonly recordedRels: string[] = [];
    private readonly recordedStamps: number[] = [];
    private readonly recordedHashes: string[] = [];
    private readonly usedDirs = new Set<string>();
    private readonly recordedDirs = new Map<string, CachedListing>();

    private constructor(
        readonly file: string | undefined,
        private readonly contextDir: string,
        private readonly patternsKey: string,
        stored: StoredCache,
    ) {
        this.stored = stored;
        this.used = new Uint8Array(stored.files.size);
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
        if (cacheDir === false) return new HashCache(undefined, ctx, patternsKey, EMPTY_STORE());
        const dir = real(cacheDir);
        if (dir === ctx || dir.startsWith(ctx + path.sep)) return new HashCache(undefined, ctx, patternsKey, EMPTY_STORE());
        const file = path.join(dir, `${crypto.createHash("sha256").update(ctx).digest("hex").slice(0, 32)}.bin`);
        return new HashCache(file, ctx, patternsKey, HashCache.read(file, ctx, patternsKey) ?? EMPTY_STORE());
    }

    /**
     * File format: one JSON header line (format, byte order, context, patterns digest, counts, and
     * the sha256 of the body), then the body: the stamps of every file and directory as float64s,
     * the files' sha256s as raw bytes, and a NUL-separated text of the file paths, the directory
     * paths and each directory's encoded children. A binary body loads in a few milliseconds
     * where parsing 20,000 text lines took tens. The header's sha256 covers the body, so a
     * truncated or damaged file is rejected whole rather than trusted in part; listings made under
     * other `.dockerignore` patterns are dropped.
     */
    private static read(file: string, ctx: string, patternsKey: string): StoredCache | undefined {
        let buf: Buffer;
        try {
            buf = fs.readFileSync(file);
        } catch {
            return undefined;
        }
        const nl = buf.indexOf(10);
        if (nl < 0) return undefined;
        let h: Partial<CacheHeader>;
        try {
            h = JSON.parse(buf.toString("utf8", 0, nl)) as Partial<CacheHeader>;
        } catch {
            return undefined;
        }
        if (h === null || typeof h !== "object" || h.format !== CACHE_FORMAT || h.endian !== os.endianness() || h.context !== ctx) return undefined;
        const { files: nf, dirs: nd, textBytes } = h;
        if (!Number.isInteger(nf) || !Number.isInteger(nd) || !Number.isInteger(textBytes)) return undefined;
        const [files, dirs, text] = [nf as number, nd as number, textBytes as number];
        const body = buf.subarray(nl + 1);
        const stampBytes = (files + dirs) * STAMP_NUMBERS * 8;
        if (files < 0 || dirs < 0 || body.length !== stampBytes + files * HASH_BYTES + text) return undefined;
        if (h.sha256 !== crypto.createHash("sha256").update(body).digest("hex")) return undefined;
        // Copied out: a Float64Array needs an 8-byte aligned offset, which the body need not have.
        const stamps = new Float64Array(body.buffer.slice(body.byteOffset, body.byteOffset + stampBytes));
        for (const v of stamps) if (!Number.isFinite(v)) return undefined;
        const hashes = body.subarray(stampBytes, stampBytes + files * HASH_BYTES);
        const parts = files + dirs === 0 ? [] : body.toString("utf8", stampBytes + files * HASH_BYTES).split("\0");
        if (parts.length !== files + 2 * dirs) return undefined;
        const fileIndex = new Map<string, number>();
        for (let i = 0; i < files; i++) fileIndex.set(parts[i], i);
        const dirMap = new Map<string, { stamp: FileStamp; encoded: string }>();
        if (h.patterns === patternsKey) {
            for (let j = 0; j < dirs; j++) dirMap.set(parts[files + j], { stamp: stampFrom(stamps, files + j), encoded: parts[files + dirs + j] });
        }
        return { files: fileIndex, stamps, hashes, dirs: dirMap };
    }

    /** Where the cache holds a hash for `rel` (for `lookup`), or -1: then there is nothing to check, only to read. */
    indexOf(rel: string): number {
        return this.stored.files.get(rel) ?? -1;
    }

    /**
     * The cached hash at `index` (from indexOf) if the file's live stamps (STAMP_FIELDS numbers
     * at `at` of `live`, as a FilePool reports them) are exactly the ones cached, else undefined.
     */
    lookup(index: number, live: Float64Array, at: number): string | undefined {
        const s = this.stored.stamps;
        const o = index * STAMP_NUMBERS;
        const l = at * STAMP_FIELDS;
        if (index < 0 || o >= s.length) return undefined;
        for (let k = 0; k < STAMP_NUMBERS; k++) if (s[o + k] !== live[l + k]) return undefined;
        this.used[index] = 1;
        // One hex string for the whole table, sliced per file: 20,000 conversions cost more.
        this.hex ??= this.stored.hashes.toString("hex");
        return this.hex.slice(index * HASH_BYTES * 2, (index + 1) * HASH_BYTES * 2);
    }

    /** Records a freshly computed hash; stored only when the stamp is settled (see isSettled). */
    record(rel: string, live: Float64Array, at: number, hash: string, startMs: number, marginMs: number): void {
        if (!isSettled(stampAt(live, at), startMs, marginMs)) return;
        const l = at * STAMP_FIELDS;
        this.recordedRels.push(rel);
        for (let k = 0; k < STAMP_NUMBERS; k++) this.recordedStamps.push(live[l + k]);
        this.recordedHashes.push(hash);
    }

    /** The cached children of directory `rel` if the directory's stamps are exactly the ones cached. */
    listing(rel: string, stamp: FileStamp): ListedChild[] | undefined {
        const hit = this.stored.dirs.get(rel);
        if (hit === undefined || !sameStamp(hit.stamp, stamp)) return undefined;
        const children = decodeChildren(hit.encoded);
        if (children !== undefined) this.usedDirs.add(rel);
        return children;
    }

    /** Records a directory's children as just listed; stored only when its stamp is settled. */
    recordListing(rel: string, stamp: FileStamp, children: ListedChild[], startMs: number, marginMs: number): void {
        if (!isSettled(stamp, startMs, marginMs)) return;
        this.recordedDirs.set(rel, { ...stamp, children });
    }

    /**
     * Writes the entries used or recorded in this digest, dropping those of deleted or changed
     * files, when something new was recorded. Entries that merely went stale are left until then:
     * a stale entry never matches a stamp, so rewriting the whole file for it would only cost time.
     * Nothing settled, nothing written: a scratch context leaves no cache file behind.
     */
    save(): void {
        if (this.file === undefined || (this.recordedRels.length === 0 && this.recordedDirs.size === 0)) return;
        const { files: index, stamps, hashes, dirs } = this.stored;
        const keptDirs = [...this.usedDirs].filter((rel) => dirs.has(rel) && !this.recordedDirs.has(rel));
        let kept = 0;
        for (const u of this.used) kept += u;
        const files = kept + this.recordedRels.length;
        const allDirs = keptDirs.length + this.recordedDirs.size;
        // Written straight into the body's arrays: no object per file.
        const allStamps = new Float64Array((files + allDirs) * STAMP_NUMBERS);
        const allHashes = Buffer.allocUnsafe(files * HASH_BYTES);
        const texts: string[] = [];
        let j = 0;
        // A file is either used from the cache or hashed afresh in one digest, never both.
        for (const [rel, i] of index) {
            if (this.used[i] !== 1) continue;
            allStamps.set(stamps.subarray(i * STAMP_NUMBERS, (i + 1) * STAMP_NUMBERS), j * STAMP_NUMBERS);
            hashes.copy(allHashes, j * HASH_BYTES, i * HASH_BYTES, (i + 1) * HASH_BYTES);
            texts.push(rel);
            j++;
        }
        this.recordedRels.forEach((rel, k) => {
            for (let n = 0; n < STAMP_NUMBERS; n++) allStamps[j * STAMP_NUMBERS + n] = this.recordedStamps[k * STAMP_NUMBERS + n];
            allHashes.write(this.recordedHashes[k], j * HASH_BYTES, HASH_BYTES, "hex");
            texts.push(rel);
            j++;
        });
        const codes: string[] = [];
        const putDir = (rel: string, st: FileStamp, encoded: string): void => {
            allStamps.set([st.size, st.mtimeMs, st.ctimeMs, st.ino, st.dev], j * STAMP_NUMBERS);
            texts.push(rel);
            codes.push(encoded);
            j++;
        };
        for (const rel of keptDirs) {
            const d = dirs.get(rel) as { stamp: FileStamp; encoded: string };
            putDir(rel, d.stamp, d.encoded);
        }
        for (const [rel, d] of this.recordedDirs) putDir(rel, d, encodeChildren(d.children));
        const text = Buffer.from([...texts, ...codes].join("\0"), "utf8");
        const body = Buffer.concat([Buffer.from(allStamps.buffer), allHashes, text]);
        const header: CacheHeader = {
            format: CACHE_FORMAT,
            endian: os.endianness(),
            context: this.contextDir,
            patterns: this.patternsKey,
            files,
            dirs: allDirs,
            textBytes: text.length,
            sha256: crypto.createHash("sha256").update(body).digest("hex"),
        };
        const tmp = `${this.file}.${process.pid}.${crypto.randomBytes(4).toString("hex")}.tmp`;
        try {
            fs.mkdirSync(path.dirname(this.file), { recursive: true });
            fs.writeFileSync(tmp, Buffer.concat([Buffer.from(`${JSON.stringify(header)}\n`), body]));
            fs.renameSync(tmp, this.file);
        } catch {
            // A cache that cannot be written is only a slower next digest.
            fs.rmSync(tmp, { force: true });
        }
    }
}

/**
 * What a FilePool reports per file. Stamps arrive as STAMP_FIELDS numbers (size, mtimeMs,
 * ctimeMs, ino, dev, mode) at offset `at` of a shared array rather than as objects: a digest
 * sees tens of thousands of files, and garbage is its largest cost after the system calls.
 */
export interface PoolHandlers<T> {
    /** Opened, fstat'ed (before reading), read and hashed. */
    hashed?(ref: T, hash: string, bytes: number, stamps: Float64Array, at: number): void;
    /** Stat'ed only. */
    stated?(ref: T, stamps: Float64Array, at: number): void;
    /** Read to the end, nothing else (the benchmark's floor). */
    read?(ref: T, bytes: number): void;
}

/** Queued files of one kind, as two parallel arrays (no object per file) read from `head`. */
interface Queue<T> {
    paths: string[];
    refs: T[];
    head: number;
}

interface Batch<T> {
    kind: BatchKind;
    paths: string[];
    refs: T[];
}

interface WorkerReply extends Partial<BatchResult> {
    id?: number;
    error?: string;
}

interface WorkerSlot {
    worker: Worker;
    port: MessagePort;
    outstanding: number;
}

/**
 * Worker threads start once this many files are queued to be read: a worker takes ~35 ms to
 * start, about what the main thread needs to read and hash 2,000 small files itself. Stats do not
 * count: on the machine measured (docs/bench.md) spreading stats over threads gained nothing.
 */
export const POOL_MIN_FILES = 4000;
const BATCH_FILES: Record<BatchKind, number> = { stat: 256, hash: 32, read: 32 };
/** Batches handed to one worker ahead of its replies, so it never waits on the main thread. */
const AHEAD = 2;
/** How often (in files queued) the walk stops to collect replies and hand out more work. */
const POLL_EVERY = 32;
const KINDS: BatchKind[] = ["stat", "hash", "read"];

function newQueue<T>(): Queue<T> {
    return { paths: [], refs: [], head: 0 };
}

export function stampAt(stamps: Float64Array, at: number): FileStamp {
    return stampFrom(stamps, at, STAMP_FIELDS);
}

export function modeAt(stamps: Float64Array, at: number): number {
    return stamps[at * STAMP_FIELDS + 5];
}

const WORKER_FILE = path.join(__dirname, "digestWorker.js");

/**
 * The file work of a digest (stat, read, hash), spread over worker threads and the main thread.
 *
 * Files are queued as the walk finds them. Once enough reads are queued, worker threads start
 * (a small job, or one that only stats, never starts them). The main thread hands
 * them batches and collects their replies synchronously (`receiveMessageOnPort`) every few files
 * it queues, so they are fed while the walk is still running; `finish` then has the main thread
 * take batches from the same queue until it is empty, so no core waits for a worker to start.
 * Workers and the main thread run the same code (digestWorker.js).
 */
export class FilePool<T> {
    private readonly queues: Record<BatchKind, Queue<T>> = { stat: newQueue(), hash: newQueue(), read: newQueue() };
    /** Reads (hash and read tasks) queued so far: what decides starting the workers. */
    private queuedReads = 0;
    private sincePoll = 0;
    private workers: WorkerSlot[] = [];
    private readonly inflight = new Map<number, Batch<T>>();
    private nextId = 0;
    private failure: Error | undefined;
    private finishing = false;
    private buf: Buffer | undefined;
    private wake: (() => void) | undefined;
    private polling = false;

    private readonly threads: number;
    private readonly startAt: number;

    /** `threads`: workers (default one per core but one, the main thread's); `startAt`: see POOL_MIN_FILES. */
    constructor(
        private readonly handlers: PoolHandlers<T>,
        options: { threads?: number; startAt?: number } = {},
    ) {
        this.threads = options.threads ?? Math.max(1, Math.min(os.availableParallelism() - 1, 7));
        this.startAt = options.startAt ?? POOL_MIN_FILES;
    }

    hash(abs: string, ref: T): void {
        this.push("hash", abs, ref);
    }

    stat(abs: string, ref: T): void {
        this.push("stat", abs, ref);
    }

    read(abs: string, ref: T): void {
        this.push("read", abs, ref);
    }

    private push(kind: BatchKind, abs: string, ref: T): void {
        this.queues[kind].paths.push(abs);
        this.queues[kind].refs.push(ref);
        if (kind !== "stat") this.queuedReads++;
        if (this.workers.length === 0) {
            if (this.queuedReads >= this.startAt) this.start();
            return;
        }
        if (++this.sincePoll >= POLL_EVERY && !this.polling) {
            this.sincePoll = 0;
            this.poll();
            this.dispatch();
        }
    }

    private start(): void {
        if (this.workers.length > 0 || this.threads === 0) return;
        for (let i = 0; i < this.threads; i++) {
            const { port1, port2 } = new MessageChannel();
            // execArgv: [] so the worker boots plain Node, not the parent's TypeScript loader.
            const worker = new Worker(WORKER_FILE, { workerData: { cartieDigestWorker: true, port: port2 }, transferList: [port2], execArgv: [] });
            const slot: WorkerSlot = { worker, port: port1, outstanding: 0 };
            // Replies are collected synchronously by poll() while this thread is busy, and by
            // this listener while it waits in finish(); each message reaches exactly one of them.
            port1.on("message", (m: WorkerReply) => {
                this.onReply(slot, m);
                this.wakeUp();
            });
            worker.on("error", (err) => {
                this.failure ??= err;
                this.wakeUp();
            });
            // A worker that stops (killed, or terminated by close) gets no more work; if it took
            // batches with it, the digest fails rather than waiting for replies that never come.
            worker.on("exit", (code) => {
                this.drain(slot);
                this.workers = this.workers.filter((w) => w !== slot);
                if (slot.outstanding > 0) this.failure ??= new Error(`a context digest worker stopped (exit code ${code}) before finishing its files`);
                this.wakeUp();
            });
            this.workers.push(slot);
        }
        this.dispatch();
    }

    /** Work from the queue, the cheapest kind first: a stat may turn into a hash, which should start early. */
    private take(partial: boolean): Batch<T> | undefined {
        for (const kind of KINDS) {
            const q = this.queues[kind];
            const n = q.paths.length - q.head;
            if (n === 0 || (!partial && n < BATCH_FILES[kind])) continue;
            // Sliced from a moving head, not spliced off the front (which moves every element left).
            const end = q.head + Math.min(n, BATCH_FILES[kind]);
            const batch = { kind, paths: q.paths.slice(q.head, end), refs: q.refs.slice(q.head, end) };
            q.head = end;
            if (q.head === q.paths.length) Object.assign(q, newQueue());
            return batch;
        }
        return undefined;
    }

    private dispatch(): void {
        for (const slot of this.workers) {
            while (slot.outstanding < AHEAD) {
                // While the walk runs only full batches go out; the rest waits for more files.
                const batch = this.take(this.finishing);
                if (batch === undefined) return;
                const id = this.nextId++;
                this.inflight.set(id, batch);
                slot.outstanding++;
                slot.worker.postMessage({ id, kind: batch.kind, paths: batch.paths });
            }
        }
    }

    /** Collects every reply already sent, without waiting. */
    private poll(): void {
        // Not re-entered: a reply's handler may queue more work (a stat that turns into a hash).
        this.polling = true;
        try {
            for (const slot of this.workers) this.drain(slot);
        } finally {
            this.polling = false;
        }
    }

    private drain(slot: WorkerSlot): void {
        for (let m = receiveMessageOnPort(slot.port); m !== undefined; m = receiveMessageOnPort(slot.port)) this.onReply(slot, m.message as WorkerReply);
    }

    private onReply(slot: WorkerSlot, r: WorkerReply): void {
        const batch = r.id === undefined ? undefined : this.inflight.get(r.id);
        if (batch === undefined || r.id === undefined) return;
        this.inflight.delete(r.id);
        slot.outstanding--;
        if (r.error !== undefined || r.stamps === undefined || r.hashes === undefined || r.bytes === undefined) {
            this.failure ??= new Error(r.error ?? "digest worker failed");
            return;
        }
        this.complete(batch, { stamps: r.stamps, hashes: r.hashes, bytes: r.bytes });
    }

    private complete(batch: Batch<T>, r: BatchResult): void {
        const { refs, kind } = batch;
        const h = this.handlers;
        for (let i = 0; i < refs.length; i++) {
            if (kind === "hash") h.hashed?.(refs[i], r.hashes[i], r.bytes[i], r.stamps, i);
            else if (kind === "stat") h.stated?.(refs[i], r.stamps, i);
            else h.read?.(refs[i], r.bytes[i]);
        }
    }

    /** Runs everything queued (and whatever that queues) to the end; always stops the workers. */
    async finish(): Promise<void> {
        this.finishing = true;
        try {
            for (;;) {
                this.poll();
                this.throwIfFailed();
                this.dispatch();
                const batch = this.take(true);
                if (batch !== undefined) {
                    this.buf ??= Buffer.allocUnsafe(1 << 20);
                    this.complete(batch, runBatch(batch.kind, batch.paths, this.buf));
                    continue;
                }
                if (this.inflight.size === 0) break;
                await new Promise<void>((resolve) => (this.wake = resolve));
            }
            this.throwIfFailed();
        } finally {
            this.close();
        }
    }

    /** A method, not an inline check: the failure is set by callbacks the compiler cannot see run. */
    private throwIfFailed(): void {
        const failure: Error | undefined = this.failure;
        if (failure !== undefined) throw failure;
    }

    /** Stops the workers; for a digest that fails before `finish`. */
    close(): void {
        for (const { worker, port } of this.workers) {
            port.close();
            void worker.terminate();
        }
        this.workers = [];
    }

    private wakeUp(): void {
        const wake = this.wake;
        this.wake = undefined;
        wake?.();
    }
}
