import { strict as assert } from "node:assert";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import type { Worker } from "node:worker_threads";
import { FilePool, modeAt, stampAt } from "../../../lib/build/digestCache";
import { makeTree } from "../../support/tree";

function treeOf(n: number): { dir: string; paths: string[] } {
    const files: Record<string, string> = {};
    for (let i = 0; i < n; i++) files[`d${i % 13}/f${i}.txt`] = `file ${i}\n`.repeat(1 + (i % 5));
    const dir = makeTree(files);
    return { dir, paths: Object.keys(files).map((rel) => path.join(dir, rel)) };
}

describe("the digest's file pool", () => {
    // Workers start once `startAt` reads are queued (4,000 by default; lowered to keep the test fast).
    const startAt = 200;
    for (const n of [10, 1200]) {
        const where = n < startAt ? "on the main thread alone" : "with worker threads";
        it(`hashes and stats every file ${where}, each result to its own file`, async () => {
            const { paths } = treeOf(n);
            const hashes = new Map<string, string>();
            const sizes = new Map<string, number>();
            const pool = new FilePool<string>(
                {
                hashed: (p, hash, bytes, stamps, at) => {
                    hashes.set(p, hash);
                    assert.equal(stampAt(stamps, at).size, bytes);
                    assert.equal(modeAt(stamps, at) & 0o170000, 0o100000, "a regular file's mode");
                },
                    stated: (p, stamps, at) => sizes.set(p, stampAt(stamps, at).size),
                },
                { startAt },
            );
            paths.forEach((p, i) => (i % 2 ? pool.hash(p, p) : pool.stat(p, p)));
            await pool.finish();
            assert.equal(hashes.size + sizes.size, n);
            for (const [p, h] of hashes) assert.equal(h, crypto.createHash("sha256").update(fs.readFileSync(p)).digest("hex"), p);
            for (const [p, size] of sizes) assert.equal(size, fs.statSync(p).size, p);
        });

        it(`fails naming a file that vanished, ${where}, and stops its threads`, async () => {
            const { dir, paths } = treeOf(n);
            const gone = path.join(dir, "d0", "vanished.txt");
            const pool = new FilePool<null>({ hashed: () => undefined }, { startAt });
            paths.forEach((p, i) => pool.hash(i === Math.floor(n / 2) ? gone : p, null));
            await assert.rejects(pool.finish(), (err: Error) => err.message.includes("ENOENT") && err.message.includes(gone));
            // A worker left running would keep mocha's process alive after the suite.
        });
    }
});

describe("the digest's file pool when a worker dies", () => {
    it("fails with a clear error instead of waiting for replies that never come", async () => {
        const { paths } = treeOf(600);
        const pool = new FilePool<null>({ hashed: () => undefined }, { startAt: 100, threads: 1 });
        for (const p of paths) pool.hash(p, null);
        // The pool's one worker, killed while it holds batches (as an out-of-memory kill would).
        const { workers } = pool as unknown as { workers: { worker: Worker }[] };
        assert.equal(workers.length, 1);
        await workers[0].worker.terminate();
        await assert.rejects(pool.finish(), /digest worker stopped .* before finishing its files/);
    });
});
