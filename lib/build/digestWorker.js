"use strict";
/**
 * The per-file work of a context digest, shared by the main thread and the worker threads.
 * Plain JavaScript on purpose: a worker thread starts without the TypeScript loader the program
 * runs under (ts-node under Pulumi, tsx in the scripts), so it must be able to load this file as is.
 * Types: digestWorker.d.ts.
 */
const fs = require("node:fs");
const crypto = require("node:crypto");
const { isMainThread, parentPort, workerData } = require("node:worker_threads");

/** Numbers per file in a batch's `stamps`: size, mtimeMs, ctimeMs, ino, dev, mode. */
const STAMP_FIELDS = 6;

function putStamp(stamps, i, st) {
    const o = i * STAMP_FIELDS;
    stamps[o] = st.size;
    stamps[o + 1] = st.mtimeMs;
    stamps[o + 2] = st.ctimeMs;
    stamps[o + 3] = st.ino;
    stamps[o + 4] = st.dev;
    stamps[o + 5] = st.mode;
}

/**
 * Reads a file as Docker's tar writer does: the size taken by fstat on the open file, no more
 * (a file growing meanwhile has a new ctime, so its hash is never cached; see digestCache.ts),
 * or to the end with `size` Infinity. With `hash`, returns the sha256 of those bytes.
 */
function readOpenFile(fd, size, buf, hash) {
    const h = hash ? crypto.createHash("sha256") : undefined;
    let done = 0;
    while (done < size) {
        const n = fs.readSync(fd, buf, 0, Math.min(buf.length, size - done), null);
        if (n === 0) break;
        done += n;
        if (h) h.update(n === buf.length ? buf : buf.subarray(0, n));
    }
    return { hash: h ? h.digest("hex") : "", bytes: done };
}

/**
 * One batch of files:
 * - "hash": open, fstat, read and sha256 each file (stamps, hashes, bytes);
 * - "stat": stat each file (stamps), to check it against the hash cache;
 * - "read": open, read to EOF and close each file, nothing else (the benchmark's floor).
 * Throws on the first file that cannot be read, naming it.
 */
function runBatch(kind, paths, buf) {
    const n = paths.length;
    const stamps = new Float64Array(kind === "read" ? 0 : n * STAMP_FIELDS);
    const hashes = kind === "hash" ? new Array(n) : [];
    const bytes = new Float64Array(kind === "stat" ? 0 : n);
    for (let i = 0; i < n; i++) {
        if (kind === "stat") {
            putStamp(stamps, i, fs.statSync(paths[i]));
            continue;
        }
        const fd = fs.openSync(paths[i], "r");
        try {
            if (kind === "hash") {
                const st = fs.fstatSync(fd);
                putStamp(stamps, i, st);
                const r = readOpenFile(fd, st.size, buf, true);
                hashes[i] = r.hash;
                bytes[i] = r.bytes;
            } else {
                bytes[i] = readOpenFile(fd, Infinity, buf, false).bytes;
            }
        } finally {
            fs.closeSync(fd);
        }
    }
    return { stamps, hashes, bytes };
}

if (!isMainThread && workerData && workerData.cartieDigestWorker === true) {
    // Work arrives on parentPort; replies go back on the port the pool gave us, which the main
    // thread can drain synchronously (receiveMessageOnPort) while it is busy walking.
    const replies = workerData.port;
    const buf = Buffer.allocUnsafe(1 << 20);
    parentPort.on("message", (m) => {
        try {
            const r = runBatch(m.kind, m.paths, buf);
            replies.postMessage({ id: m.id, ...r }, [r.stamps.buffer, r.bytes.buffer]);
        } catch (err) {
            replies.postMessage({ id: m.id, error: String((err && err.message) || err) });
        }
    });
}

module.exports = { runBatch, STAMP_FIELDS };
