/**
 * The stack lock of Pulumi's `file://` backend after an interrupted run.
 *
 * The CLI writes `<backend>/.pulumi/locks/<org>/<project>/<stack>/<uuid>.json` holding
 * `{"pid","username","hostname","timestamp"}` when an update starts and removes it when it ends;
 * after `kill -9` of the CLI it stays, and every later command refuses: "the stack is currently
 * locked by 1 lock(s)" (seen with pulumi v3.248.0 on this project). Only a lock whose process is
 * provably gone may be cleared: taken on this host, and no process with that pid started before it.
 */
import * as fs from "node:fs";
import * as path from "node:path";

export interface StackLock {
    file: string;
    pid: number;
    hostname: string;
    username?: string;
    /** When the lock was taken. */
    takenAt: Date;
}

export type LockVerdict =
    | { kind: "held"; lock: StackLock; why: string }
    | { kind: "stale"; lock: StackLock; why: string }
    | { kind: "foreign"; lock: StackLock; why: string };

/** The lock files of one stack in a `file://` backend directory (the URL's path). */
export function stackLocks(backendDir: string, project: string, stack: string, org = "organization"): StackLock[] {
    const dir = path.join(backendDir, ".pulumi", "locks", org, project, stack);
    if (!fs.existsSync(dir)) return [];
    return fs
        .readdirSync(dir)
        .filter((f) => f.endsWith(".json"))
        .map((f) => parseLock(path.join(dir, f), fs.readFileSync(path.join(dir, f), "utf8")));
}

export function parseLock(file: string, text: string): StackLock {
    let raw: { pid?: unknown; hostname?: unknown; username?: unknown; timestamp?: unknown };
    try {
        raw = JSON.parse(text) as typeof raw;
    } catch {
        throw new Error(`${file} is not a Pulumi lock file (not JSON); leave it, and ask whoever wrote it`);
    }
    const takenAt = new Date(String(raw.timestamp));
    if (typeof raw.pid !== "number" || typeof raw.hostname !== "string" || Number.isNaN(takenAt.getTime())) {
        throw new Error(`${file} is not a Pulumi lock file (no pid, hostname and timestamp)`);
    }
    return { file, pid: raw.pid, hostname: raw.hostname, username: typeof raw.username === "string" ? raw.username : undefined, takenAt };
}

/** What runs as `pid` now: its start time, or undefined when nothing does. */
export type ProcessStart = (pid: number) => Date | undefined;

/**
 * Held: its process lives (a pid is reused only by a process that started after the lock was
 * taken; a second of slack for clock rounding). Foreign: taken on another host, which this one
 * cannot check. Stale: taken here, and its process is gone.
 */
export function judgeLock(lock: StackLock, thisHost: string, startOf: ProcessStart): LockVerdict {
    const who = `pid ${lock.pid} on ${lock.hostname}${lock.username ? ` (${lock.username})` : ""}, since ${lock.takenAt.toISOString()}`;
    if (lock.hostname !== thisHost) return { kind: "foreign", lock, why: `taken by ${who}: another host, which this one cannot check` };
    const started = startOf(lock.pid);
    if (started && started.getTime() <= lock.takenAt.getTime() + 1000) return { kind: "held", lock, why: `taken by ${who}, which is still running` };
    return { kind: "stale", lock, why: `taken by ${who}, which is gone${started ? " (its pid now belongs to a newer process)" : ""}` };
}
