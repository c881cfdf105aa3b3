/** Types of digestWorker.js (plain JavaScript so worker threads can load it without a TypeScript loader). */

export type BatchKind = "hash" | "stat" | "read";

export interface BatchResult {
    /** STAMP_FIELDS numbers per file (size, mtimeMs, ctimeMs, ino, dev, mode); empty for "read". */
    stamps: Float64Array;
    /** sha256 hex per file, for "hash"; empty otherwise. */
    hashes: string[];
    /** Bytes read per file, for "hash" and "read"; empty for "stat". */
    bytes: Float64Array;
}

export const STAMP_FIELDS: number;

export function runBatch(kind: BatchKind, paths: string[], buf: Buffer): BatchResult;
