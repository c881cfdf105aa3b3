import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { contextDigest, listContext, readContextFloor } from "../lib/context";

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

async function main(): Promise<void> {
    const [mode, ctx, cacheDir] = process.argv.slice(2);
    const t0 = process.hrtime.bigint();
    let r: Omit<Result, "ms">;
    switch (mode) {
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
