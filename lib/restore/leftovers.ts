/**
 * What a killed `npm run restore` leaves running, and how the next one recognises it.
 *
 * The Pulumi CLI starts its plugins (the language host, the providers) in process groups of their
 * own, and the command provider starts the platform's steps (scripts/release.ts, migrate.ts) under
 * them; after `kill -9` of the restore and the CLI they keep running, reparented to init (seen with
 * pulumi v3.248.0 here). A leftover release or migration racing the next run's own would switch or
 * migrate twice. So every restore runs the CLI with one variable, inherited by everything below it,
 * naming the run: `CARTIE_RESTORE_RUN=<stack>|<pid>|<start ticks>|<project dir>` of the restore
 * process. A process whose marker names this stack and project and a restore process that is gone
 * is a leftover. A migration container (`docker run` of the migrator) carries the marker as a label:
 * it is waited for, never stopped, since a migration cut short is what leaves a database half-changed.
 */
import { ProcessInfo } from "./procfs";

export const RUN_VARIABLE = "CARTIE_RESTORE_RUN";
/** The label `scripts/migrate.ts` puts on its migrator containers (the marker of the run that started it). */
export const RUN_LABEL = "io.cartie.platform.run";

export interface RunMarker {
    stack: string;
    pid: number;
    startTicks: number;
    projectDir: string;
}

export function formatMarker(m: RunMarker): string {
    return [m.stack, m.pid, m.startTicks, m.projectDir].join("|");
}

export function parseMarker(text: string | undefined): RunMarker | undefined {
    if (!text) return undefined;
    const [stack, pid, ticks, ...dir] = text.split("|");
    if (!stack || !/^\d+$/.test(pid ?? "") || !/^\d+$/.test(ticks ?? "") || dir.length === 0) return undefined;
    return { stack, pid: Number(pid), startTicks: Number(ticks), projectDir: dir.join("|") };
}

/** Whether the restore that owns a marker still runs (same pid, same start: not a reused pid). */
export type OwnerAlive = (m: RunMarker) => boolean;

/** The processes of earlier restores of this stack and project whose restore process is gone. */
export function findLeftovers(processes: ProcessInfo[], current: RunMarker, alive: OwnerAlive): ProcessInfo[] {
    return processes.filter((p) => {
        const m = parseMarker(p.environ[RUN_VARIABLE]);
        if (!m || m.stack !== current.stack || m.projectDir !== current.projectDir) return false;
        if (m.pid === current.pid && m.startTicks === current.startTicks) return false;
        return !alive(m);
    });
}

/** A marker on a migration container belongs to a run of this stack and project that is over. */
export function isOrphanedRun(label: string | undefined, current: RunMarker, alive: OwnerAlive): boolean {
    const m = parseMarker(label);
    return !!m && m.stack === current.stack && m.projectDir === current.projectDir && !alive(m);
}

/** The one line a person reads about a leftover: what it was doing. */
export function describeLeftover(p: ProcessInfo): string {
    const cmd = p.command.replace(/\s+/g, " ").trim();
    if (/scripts\/release\.ts/.test(cmd)) return `pid ${p.pid}: a release step (scripts/release.ts)`;
    if (/scripts\/migrate\.ts/.test(cmd)) return `pid ${p.pid}: a migration step (scripts/migrate.ts)`;
    if (/pulumi-language-nodejs|cmd\/run\/index\.js/.test(cmd)) return `pid ${p.pid}: the program (Pulumi's Node.js language host)`;
    const plugin = /pulumi-resource-(\w+)/.exec(cmd);
    if (plugin) return `pid ${p.pid}: Pulumi's ${plugin[1]} provider`;
    if (/(^|\/)pulumi( |$)/.test(cmd)) return `pid ${p.pid}: the Pulumi CLI`;
    return `pid ${p.pid}: ${cmd.slice(0, 80)}`;
}
