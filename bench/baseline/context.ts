// The lib/context.ts of commit c4cade3, before this benchmark: kept to show what changed. Not used by the program.
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import dockerignore from "@balena/dockerignore";

/**
 * Docker build contexts as Docker sees them. `.dockerignore` matching is @balena/dockerignore, a
 * port of Docker's own matcher (root-anchored patterns, `**`, `!` exceptions, parent-directory
 * rules), so "the files Docker would send" means the same thing here as in `docker build`.
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
    const ig = dockerignore().add(patterns);
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

/**
 * Lists what `docker build` sends for a context: every entry `.dockerignore` keeps, plus the
 * Dockerfile and `.dockerignore` themselves (Docker always sends those). An excluded directory
 * is not entered unless an exception pattern could reach inside it.
 */
export function listContext(contextDir: string, patterns: string[] = readDockerignore(contextDir)): ContextListing {
    const ig = dockerignore().add(patterns);
    const exceptions = patterns.filter((p) => p.startsWith("!")).map(cleanPattern);
    const entries: ContextEntry[] = [];
    let visited = 0;
    const alwaysSent = new Set(["Dockerfile", ".dockerignore"]);

    const walk = (absDir: string, relDir: string): void => {
        const dirents = fs.readdirSync(absDir, { withFileTypes: true });
        visited += dirents.length;
        for (const d of dirents) {
            const rel = relDir === "" ? d.name : `${relDir}/${d.name}`;
            const abs = path.join(absDir, d.name);
            const ignored = ig.ignores(rel) && !(relDir === "" && alwaysSent.has(d.name));
            if (d.isDirectory()) {
                if (ignored && !exceptionMayMatchInside(exceptions, rel)) continue;
                if (!ignored) entries.push({ rel, kind: "dir", executable: false });
                walk(abs, rel);
            } else if (!ignored) {
                if (d.isSymbolicLink()) entries.push({ rel, kind: "symlink", executable: false });
                else if (d.isFile()) {
                    const mode = fs.statSync(abs).mode;
                    entries.push({ rel, kind: "file", executable: (mode & 0o111) !== 0 });
                }
            }
        }
    };
    walk(contextDir, "");
    entries.sort((a, b) => (a.rel < b.rel ? -1 : a.rel > b.rel ? 1 : 0));
    return { entries, visited };
}

export interface ContextDigest {
    /** sha256 over every sent entry (path, kind, mode, content) and the build args. */
    digest: string;
    files: number;
    bytes: number;
    visited: number;
}

const READ_CONCURRENCY = 16;

async function hashFile(abs: string): Promise<{ hash: string; size: number }> {
    const data = await fs.promises.readFile(abs);
    return { hash: crypto.createHash("sha256").update(data).digest("hex"), size: data.length };
}

/**
 * Digest of exactly what Docker would send for `contextDir`, plus the build args, so the same
 * source always gives the same image tag and any change that reaches the image gives a new one.
 * Files are read with bounded concurrency so hashing overlaps I/O.
 */
export async function contextDigest(contextDir: string, buildArgs: Record<string, string> = {}, patterns?: string[]): Promise<ContextDigest> {
    const listing = listContext(contextDir, patterns);
    const lines: string[] = new Array<string>(listing.entries.length);
    let bytes = 0;
    let next = 0;
    const worker = async (): Promise<void> => {
        while (next < listing.entries.length) {
            const i = next++;
            const e = listing.entries[i];
            const abs = path.join(contextDir, e.rel);
            if (e.kind === "dir") lines[i] = `${e.rel}\0dir`;
            else if (e.kind === "symlink") lines[i] = `${e.rel}\0symlink\0${toPosix(await fs.promises.readlink(abs))}`;
            else {
                const { hash, size } = await hashFile(abs);
                bytes += size;
                lines[i] = `${e.rel}\0file\0${e.executable ? "x" : "-"}\0${size}\0${hash}`;
            }
        }
    };
    await Promise.all(Array.from({ length: Math.min(READ_CONCURRENCY, listing.entries.length) }, worker));
    const h = crypto.createHash("sha256");
    for (const line of lines) h.update(`${line}\n`);
    h.update(`args\0${stableJson(buildArgs)}`);
    return {
        digest: h.digest("hex"),
        files: listing.entries.filter((e) => e.kind === "file").length,
        bytes,
        visited: listing.visited,
    };
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
