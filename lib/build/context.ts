import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { defaultCacheDir, FilePool, HashCache, ListedChild, modeAt, RACY_MARGIN_MS, stampAt, stampOf } from "./digestCache";
import { runBatch } from "./digestWorker";
import { ContextMatcher, newDockerignore } from "./dockerignoreMatch";

/**
 * Docker build contexts as Docker sees them. `.dockerignore` matching is @balena/dockerignore, a
 * port of Docker's own matcher (root-anchored patterns, `**`, `!` exceptions, parent-directory
 * rules), case-sensitive as Docker is (lib/build/dockerignoreMatch.ts), so "the files Docker would
 * send" means the same thing here as in `docker build`.
 */

export interface ContextEntry {
    /** Path relative to the context root, `/`-separated. */
    rel: string;
    kind: "file" | "dir" | "symlink";
    /** Executable bit, which Docker preserves in the image. */
    executable: boolean;
}

export interface ContextListing {
    entries: ContextEntry[];
    /** Directory entries read while walking, a measure of the work done (excluded trees are not entered). */
    visited: number;
}

/** The patterns of `<contextDir>/.dockerignore`, or [] when there is none. */
export function readDockerignore(contextDir: string): string[] {
    const file = path.join(contextDir, ".dockerignore");
    if (!fs.existsSync(file)) return [];
    return parseDockerignore(fs.readFileSync(file, "utf8"));
}

export function parseDockerignore(text: string): string[] {
    return text
        .split(/\r?\n/)
        .map((l) => l.trim())
        .filter((l) => l !== "" && !l.startsWith("#"));
}

/** What must never reach an image from a developer's or CI host: the incident's root cause. */
export const REQUIRED_EXCLUSIONS = ["node_modules", "dist", ".env"] as const;

/**
 * Names each required exclusion that `.dockerignore` lets through, checked by matching (not by
 * string comparison) so `**\/node_modules` or `node_modules/` count and a later `!dist` undoes `dist`.
 */
export function missingExclusions(patterns: string[]): string[] {
    const ig = newDockerignore(patterns);
    return REQUIRED_EXCLUSIONS.filter((name) => !ig.ignores(name) || !ig.ignores(`${name}/x`));
}

export class BuildContextError extends Error {
    constructor(message: string) {
        super(message);
        this.name = "BuildContextError";
    }
}

/** Throws a BuildContextError naming the context, what leaks and the lines to add. */
export function guardBuildContext(contextDir: string, displayPath: string): void {
    const hasFile = fs.existsSync(path.join(contextDir, ".dockerignore"));
    const missing = missingExclusions(readDockerignore(contextDir));
    if (missing.length === 0) return;
    const what = hasFile ? `${displayPath}/.dockerignore does not exclude ${missing.join(", ")}` : `${displayPath} has no .dockerignore`;
    throw new BuildContextError(
        `Build context guard: ${what}, so host build artifacts and secrets would be sent into the image ` +
            `(the Cartie incident: a host dist/ and node_modules/ made a stale api image that expected table "User"). ` +
            `Fix: add these lines to ${displayPath}/.dockerignore:\n${missing.map((m) => `  ${m}`).join("\n")}`,
    );
}

function toPosix(p: string): string {
    return p.split(path.sep).join("/");
}

/** True when a `!` exception could re-include something below `dir`, so the walk must enter it. */
function exceptionMayMatchInside(exceptions: string[], dir: string): boolean {
    return exceptions.some((pattern) => {
        const firstWildcard = pattern.search(/[*?[\\]/);
        const literal = firstWildcard === -1 ? pattern : pattern.slice(0, firstWildcard);
        if (literal === "") return true;
        return literal.startsWith(`${dir}/`) || `${dir}/`.startsWith(literal) || literal === dir;
    });
}

function cleanPattern(p: string): string {
    return path.posix.normalize(p.replace(/^!/, "").replace(/^\/+/, "")).replace(/\/+$/, "");
}

interface WalkedFile extends ContextEntry {
    abs: string;
    /** Where the hash cache holds this file, if it does (the digest's). */
    cacheIndex?: number;
    /** Filled in by the digest: the content's sha256 and size. */
    hash?: string;
    size?: number;
}

/** Where the walk may reuse directory listings from an earlier digest (see lib/build/digestCache.ts). */
interface ListingCache {
    cache: HashCache;
    startMs: number;
    marginMs: number;
}

function childType(d: fs.Dirent): ListedChild["type"] {
    return d.isDirectory() ? "dir" : d.isSymbolicLink() ? "symlink" : d.isFile() ? "file" : "other";
}

/**
 * The walk behind listContext and contextDigest: readdir and match, one directory at a time.
 * `onFile` sees each sent regular file as it is found (no file is stat'ed here: the digest's
 * file work, stat included, runs on its thread pool). With `listings`, a directory whose stamps
 * are unchanged since an earlier digest is neither read nor matched again.
 */
function walkContext(
    contextDir: string,
    patterns: string[],
    onFile?: (entry: WalkedFile) => void,
    listings?: ListingCache,
): { entries: WalkedFile[]; visited: number } {
    const matcher = new ContextMatcher(patterns);
    const exceptions = patterns.filter((p) => p.startsWith("!")).map(cleanPattern);
    const entries: WalkedFile[] = [];
    let visited = 0;
    const alwaysSent = new Set(["Dockerfile", ".dockerignore"]);

    const list = (absDir: string, relDir: string): ListedChild[] => {
        // The directory's stamp is taken before reading it: a change after this stat moves it.
        const stamp = listings ? stampOf(fs.statSync(absDir)) : undefined;
        const cached = listings && stamp ? listings.cache.listing(relDir, stamp) : undefined;
        if (cached) return cached;
        const ignores = matcher.forDirectory(relDir);
        const children = fs.readdirSync(absDir, { withFileTypes: true }).map((d) => {
            const rel = relDir === "" ? d.name : `${relDir}/${d.name}`;
            return { name: d.name, type: childType(d), ignored: ignores(rel) && !(relDir === "" && alwaysSent.has(d.name)) };
        });
        if (listings && stamp) listings.cache.recordListing(relDir, stamp, children, listings.startMs, listings.marginMs);
        return children;
    };

    const walk = (absDir: string, relDir: string): void => {
        const children = list(absDir, relDir);
        visited += children.length;
        for (const c of children) {
            const rel = relDir === "" ? c.name : `${relDir}/${c.name}`;
            if (c.type === "dir") {
                if (c.ignored && !exceptionMayMatchInside(exceptions, rel)) continue;
                if (!c.ignored) entries.push({ rel, abs: "", kind: "dir", executable: false });
                walk(`${absDir}${path.sep}${c.name}`, rel);
            } else if (!c.ignored) {
                if (c.type === "symlink") entries.push({ rel, abs: "", kind: "symlink", executable: false });
                else if (c.type === "file") {
                    const entry: WalkedFile = { rel, abs: `${absDir}${path.sep}${c.name}`, kind: "file", executable: false };
                    entries.push(entry);
                    onFile?.(entry);
                }
            }
        }
    };
    walk(path.resolve(contextDir), "");
    entries.sort((a, b) => (a.rel < b.rel ? -1 : a.rel > b.rel ? 1 : 0));
    return { entries, visited };
}

/**
 * Lists what `docker build` sends for a context: every entry `.dockerignore` keeps, plus the
 * Dockerfile and `.dockerignore` themselves (Docker always sends those). An excluded directory
 * is not entered unless an exception pattern could reach inside it.
 */
export function listContext(contextDir: string, patterns: string[] = readDockerignore(contextDir)): ContextListing {
    const { entries, visited } = walkContext(contextDir, patterns);
    const root = path.resolve(contextDir);
    return {
        entries: entries.map((e) => ({
            rel: e.rel,
            kind: e.kind,
            executable: e.kind === "file" && (fs.statSync(path.join(root, e.rel)).mode & 0o111) !== 0,
        })),
        visited,
    };
}

export interface ContextDigest {
    /** sha256 over every sent entry (path, kind, mode, content) and the build args. */
    digest: string;
    files: number;
    bytes: number;
    visited: number;
    /** Files read and hashed by this digest; the others' hashes came from the cache. */
    hashed: number;
}

export interface DigestOptions {
    /** Directory of the content-hash cache, or false for none; default `defaultCacheDir()`. */
    cacheDir?: string | false;
    /** Start time used by the racy-entry rule (tests only); default now. */
    nowMs?: number;
    /** How much older than the start a stat must be to be cached (tests only); default RACY_MARGIN_MS. */
    racyMarginMs?: number;
}

/**
 * Digest of exactly what Docker would send for `contextDir`, plus the build args, so the same
 * source always gives the same image tag and any change that reaches the image gives a new one.
 *
 * The walk (main thread) queues each sent file on a FilePool as it finds it: a file the hash
 * cache knows is stat'ed and read only if its stamps moved; any other file is opened, fstat'ed,
 * read and hashed. Worker threads take that work while the walk goes on, and the main thread
 * joins them when it is done. See lib/build/digestCache.ts for why a cached hash is always the file's
 * current content hash: with or without the cache, the digest is the same.
 */
export async function contextDigest(
    contextDir: string,
    buildArgs: Record<string, string> = {},
    patterns?: string[],
    options: DigestOptions = {},
): Promise<ContextDigest> {
    const startMs = options.nowMs ?? Date.now();
    const margin = options.racyMarginMs ?? RACY_MARGIN_MS;
    const rules = patterns ?? readDockerignore(contextDir);
    const cache = HashCache.open(contextDir, options.cacheDir ?? defaultCacheDir(), rules);
    let hashed = 0;
    const fresh = (entry: WalkedFile, hash: string, bytes: number, stamps: Float64Array, at: number): void => {
        hashed++;
        entry.hash = hash;
        entry.size = bytes;
        entry.executable = (modeAt(stamps, at) & 0o111) !== 0;
        cache.record(entry.rel, stamps, at, hash, startMs, margin);
    };
    const pool: FilePool<WalkedFile> = new FilePool({
        hashed: fresh,
        stated: (entry, stamps, at) => {
            const cached = cache.lookup(entry.cacheIndex ?? -1, stamps, at);
            if (cached === undefined) return pool.hash(entry.abs, entry);
            entry.hash = cached;
            entry.size = stampAt(stamps, at).size;
            entry.executable = (modeAt(stamps, at) & 0o111) !== 0;
        },
    });
    let listing: ReturnType<typeof walkContext>;
    try {
        listing = walkContext(
            contextDir,
            rules,
            (entry) => {
                entry.cacheIndex = cache.indexOf(entry.rel);
                if (entry.cacheIndex >= 0) pool.stat(entry.abs, entry);
                else pool.hash(entry.abs, entry);
            },
            { cache, startMs, marginMs: margin },
        );
    } catch (err) {
        pool.close();
        throw err;
    }
    await pool.finish();

    const lines: string[] = [];
    let bytes = 0;
    let files = 0;
    for (const e of listing.entries) {
        if (e.kind === "dir") lines.push(`${e.rel}\0dir\n`);
        else if (e.kind === "symlink") lines.push(`${e.rel}\0symlink\0${toPosix(fs.readlinkSync(path.join(contextDir, e.rel)))}\n`);
        else {
            bytes += e.size as number;
            files++;
            lines.push(`${e.rel}\0file\0${e.executable ? "x" : "-"}\0${e.size as number}\0${e.hash as string}\n`);
        }
    }
    const digest = crypto.createHash("sha256").update(lines.join("")).update(`args\0${stableJson(buildArgs)}`).digest("hex");
    cache.save();
    return { digest, files, bytes, visited: listing.visited, hashed };
}

/**
 * The benchmark's floors: the digest's own walk, then every sent file opened, read to the end
 * and closed, without hashing, either on this thread alone (`inline`) or on the digest's thread
 * pool. Not used by the program.
 */
export async function readContextFloor(contextDir: string, threads: "inline" | "pool" = "pool"): Promise<{ files: number; bytes: number; visited: number }> {
    const patterns = readDockerignore(contextDir);
    let bytes = 0;
    let files = 0;
    if (threads === "inline") {
        const buf = Buffer.allocUnsafe(1 << 20);
        const paths: string[] = [];
        const listing = walkContext(contextDir, patterns, (entry) => paths.push(entry.abs));
        for (const b of runBatch("read", paths, buf).bytes) bytes += b;
        return { files: paths.length, bytes, visited: listing.visited };
    }
    const pool = new FilePool<null>({
        read: (_ref, n) => {
            bytes += n;
        },
    });
    const listing = walkContext(contextDir, patterns, (entry) => {
        files++;
        pool.read(entry.abs, null);
    });
    await pool.finish();
    return { files, bytes, visited: listing.visited };
}

/** JSON with sorted keys, so the order build args are written in never changes a digest. */
export function stableJson(obj: Record<string, string>): string {
    return JSON.stringify(Object.keys(obj).sort().map((k) => [k, obj[k]]));
}

/** The image tag for a digest: short enough to read in a preview, long enough never to collide here. */
export function contentTag(digest: string): string {
    return digest.slice(0, 16);
}

/** Digest of the migrations folder: every file in it, nothing ignored. */
export async function migrationsHash(migrationsDir: string): Promise<string> {
    return (await contextDigest(migrationsDir, {}, [])).digest;
}
