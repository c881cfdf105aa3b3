/**
 * The few process facts the restore needs, read from Linux's /proc: a process's start time, its
 * command line and environment. Elsewhere (no /proc) every answer is "unknown" and the restore
 * says it cannot look for leftovers.
 */
import * as fs from "node:fs";

/** Linux's USER_HZ: /proc times are in these ticks (100 on every architecture Docker runs on). */
const CLOCK_TICKS = 100;

let bootMs: number | undefined;
function bootTimeMs(): number | undefined {
    if (bootMs !== undefined) return bootMs;
    try {
        const line = fs.readFileSync("/proc/stat", "utf8").split("\n").find((l) => l.startsWith("btime "));
        bootMs = line ? Number(line.split(/\s+/)[1]) * 1000 : undefined;
    } catch {
        bootMs = undefined;
    }
    return bootMs;
}

/**
 * Start ticks since boot (field 22 of /proc/<pid>/stat; the command in field 2 may hold spaces),
 * or undefined when there is no such process. A zombie (state Z, or X while it goes) counts as
 * none: it has exited and holds nothing, it only waits for a parent to reap it, and some PID 1s
 * never reap orphans (this machine's VM agent does not: a killed CLI stays Z for good, checked here
 * with an orphaned `sleep`), so `kill(pid, 0)` would call it alive forever.
 */
export function startTicks(pid: number): number | undefined {
    try {
        const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
        const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
        if (fields[0] === "Z" || fields[0] === "X") return undefined;
        return Number(fields[19]);
    } catch {
        return undefined;
    }
}

/** The process runs (it exists and is not a zombie). */
export const isRunning = (pid: number): boolean => startTicks(pid) !== undefined;

export function processStart(pid: number): Date | undefined {
    const ticks = startTicks(pid);
    const boot = bootTimeMs();
    if (ticks === undefined || boot === undefined) return undefined;
    return new Date(boot + (ticks * 1000) / CLOCK_TICKS);
}

export const hasProcfs = (): boolean => fs.existsSync("/proc/self/environ");

export interface ProcessInfo {
    pid: number;
    command: string;
    environ: Record<string, string>;
}

/** Every process this user may read, with its environment (others are skipped). */
export function listProcesses(): ProcessInfo[] {
    const out: ProcessInfo[] = [];
    for (const entry of fs.readdirSync("/proc")) {
        if (!/^\d+$/.test(entry)) continue;
        const pid = Number(entry);
        try {
            const environ: Record<string, string> = {};
            for (const kv of fs.readFileSync(`/proc/${pid}/environ`, "utf8").split("\0")) {
                const i = kv.indexOf("=");
                if (i > 0) environ[kv.slice(0, i)] = kv.slice(i + 1);
            }
            const command = fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").filter(Boolean).join(" ");
            out.push({ pid, command, environ });
        } catch {
            // gone meanwhile, a kernel thread, or not ours to read
        }
    }
    return out;
}
