import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { contextDigest, listContext, readContextFloor, readDockerignore } from "../lib/build/context";
import { ContextMatcher, newDockerignore } from "../lib/build/dockerignoreMatch";

/**
 * One measurement in a fresh process (as a `pulumi preview` would run it): prints one JSON line
 * with the time of the call alone (module loading excluded, worker start-up included).
 * Usage: tsx bench/child.ts <mode> <context> [cacheDir]
 */
interface Result {
    ms: number;
    files: number;
    bytes: number;
    visited: number;
    hashed?: number;
    digest?: string;
}

function naiveSync(ctx: string): Omit<Result, "ms"> {
    // The naive synchronous SHA-256 walk: readFileSync and hash each file in turn.
    const listing = listContext(ctx);
    const h = crypto.createHash("sha256");
    let bytes = 0;
    let files = 0;
    for (const e of listing.entries) {
        if (e.kind !== "file") continue;
        const data = fs.readFileSync(path.join(ctx, e.rel));
        h.update(`${e.rel}\0${crypto.createHash("sha256").update(data).digest("hex")}\n`);
        bytes += data.length;
        files++;
    }
    return { files, bytes, visited: listing.visited, digest: h.digest("hex") };
}

/**
 * The measurements whose inputs are prepared before the clock starts, or undefined for the others.
 * The least work of the two digests, each timed alone: one stat per sent file, which a touched
 * digest cannot skip without a file watcher; and sha256 over the sent bytes already in memory,
 * which a cold digest cannot skip. And matching alone (prepareMatching).
 */
function preparePart(mode: string, ctx: string): (() => Omit<Result, "ms">) | undefined {
    if (mode === "match-library" || mode === "match-per-dir") return prepareMatching(mode, ctx);
    if (mode !== "stat-only" && mode !== "sha-only") return undefined;
    const paths = listContext(ctx)
        .entries.filter((e) => e.kind === "file")
        .map((e) => path.join(ctx, e.rel));
    if (mode === "stat-only") {
        return () => {
            let bytes = 0;
            for (const p of paths) bytes += fs.statSync(p).size;
            return { files: paths.length, bytes, visited: 0 };
        };
    }
    const contents = paths.map((p) => fs.readFileSync(p));
    return () => {
        let bytes = 0;
        for (const c of contents) {
            crypto.createHash("sha256").update(c).digest("hex");
            bytes += c.length;
        }
        return { files: contents.length, bytes, visited: 0 };
    };
}

/**
 * `.dockerignore` matching alone over every path the walk decides (the sent entries and what it
 * skips at their level), timed two ways: @balena/dockerignore's ignores() per path, and the
 * digest's per-directory evaluation of the same rules (lib/build/dockerignoreMatch.ts).
 */
function prepareMatching(mode: string, ctx: string): () => Omit<Result, "ms"> {
    const patterns = readDockerignore(ctx);
    const byDir = new Map<string, string[]>();
    for (const e of listContext(ctx, patterns).entries) {
        const dir = path.posix.dirname(e.rel);
        const key = dir === "." ? "" : dir;
        const rels = byDir.get(key) ?? [];
        rels.push(e.rel);
        byDir.set(key, rels);
    }
    for (const name of ["node_modules", "dist"]) byDir.get("")?.push(name);
    const count = [...byDir.values()].reduce((n, rels) => n + rels.length, 0);
    return () => {
        let ignored = 0;
        if (mode === "match-library") {
            const ig = newDockerignore(patterns);
            for (const rels of byDir.values()) for (const rel of rels) if (ig.ignores(rel)) ignored++;
        } else {
            const matcher = new ContextMatcher(patterns);
            for (const [dir, rels] of byDir) {
                const ignores = matcher.forDirectory(dir);
                for (const rel of rels) if (ignores(rel)) ignored++;
            }
        }
        // The paths decided, and how many were excluded (the two ways must agree).
        return { files: count, bytes: ignored, visited: 0 };
    };
}

async function main(): Promise<void> {
    const [mode, ctx, cacheDir] = process.argv.slice(2);
    const part = preparePart(mode, ctx);
    const t0 = process.hrtime.bigint();
    let r: Omit<Result, "ms">;
    switch (part ? "prepared" : mode) {
        case "prepared":
            r = (part as () => Omit<Result, "ms">)();
            break;
        case "floor-1t":
            r = await readContextFloor(ctx, "inline");
            break;
        case "floor-pool":
            r = await readContextFloor(ctx, "pool");
            break;
        case "naive":
            r = naiveSync(ctx);
            break;
        case "digest":
            r = await contextDigest(ctx, {}, undefined, { cacheDir: cacheDir ?? false });
            break;
        default:
            throw new Error(`unknown mode ${mode}`);
    }
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    process.stdout.write(`${JSON.stringify({ ms, ...r })}\n`);
}

void main();
