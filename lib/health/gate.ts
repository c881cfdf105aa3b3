/**
 * The health gate of a container, as a pure reading of what Docker reports: a release's new api or
 * web before any user reaches it, and the db before anything that needs it runs. Docker's own
 * health status decides (the healthcheck the program declares); a crash, a restart or an exit
 * fails the gate at once instead of costing the whole timeout. A failure says what the container
 * did, its last probe outputs and its last log lines (secrets masked).
 */
import { maskSecrets } from "../env";

/** What the release reads of a container (`docker inspect`), reduced to what the gate needs. */
export interface ContainerState {
    name: string;
    running: boolean;
    restarting: boolean;
    exitCode: number;
    restartCount: number;
    /** Docker's health status; undefined when the container has no healthcheck. */
    health?: "starting" | "healthy" | "unhealthy";
    /** Output of the last health probes, oldest first. */
    probes: string[];
}

export type GateVerdict = { kind: "healthy" } | { kind: "waiting"; why: string } | { kind: "failed"; why: string };

export function readGate(state: ContainerState | undefined, elapsedMs: number, timeoutMs: number): GateVerdict {
    if (!state) return { kind: "failed", why: "is gone (removed while the release waited for it)" };
    if (state.restartCount > 0 || state.restarting || (!state.running && state.exitCode !== 0)) {
        // Once Docker restarted it, the exit code of the crash is gone: say only what is known.
        const exit = state.running ? "" : ` (exit code ${state.exitCode})`;
        const restarts = state.restartCount > 0 ? `, restarted ${state.restartCount} time(s) by its restart policy` : "";
        return { kind: "failed", why: `crashed${exit}${restarts}` };
    }
    if (!state.running) return { kind: "failed", why: "exited (code 0) instead of serving" };
    if (state.health === undefined) return { kind: "failed", why: "has no healthcheck, so nothing can tell that it serves" };
    if (state.health === "healthy") return { kind: "healthy" };
    if (state.health === "unhealthy") return { kind: "failed", why: "is unhealthy: its healthcheck failed" };
    if (elapsedMs >= timeoutMs) return { kind: "failed", why: `did not become healthy within ${Math.round(timeoutMs / 1000)} s (health: ${state.health})` };
    return { kind: "waiting", why: `health: ${state.health}` };
}

/** What a gate reads of the host; lib/health/dockerContainers.ts is the real one. */
export interface ContainerReader {
    inspect(container: string): Promise<ContainerState | undefined>;
    logTail(container: string, lines: number): Promise<string>;
    now(): number;
    sleep(ms: number): Promise<void>;
}

const indent = (text: string): string =>
    text
        .trimEnd()
        .split("\n")
        .map((l) => `    ${l}`)
        .join("\n");

/** `<what> container <name> <why>`, its last probe outputs and last log lines (masked): what a person needs to see. */
export async function describeContainerFailure(host: Pick<ContainerReader, "logTail">, container: string, what: string, why: string, state: ContainerState | undefined): Promise<string> {
    const probes = (state?.probes ?? []).slice(-3).map((p) => p.trim()).filter(Boolean);
    const logs = await host.logTail(container, 20).catch((err: Error) => `(could not read logs: ${err.message})`);
    return [
        `${what} container ${container} ${why}`,
        `  health output: ${probes.length > 0 ? probes.join(" | ") : "(no probe output)"}`,
        `  last log lines:`,
        logs.trim() === "" ? "    (none)" : indent(maskSecrets(logs, [])),
    ].join("\n");
}

/** Polls until the container is healthy (undefined) or the gate fails (the description of why). */
export async function waitUntilHealthy(host: ContainerReader, container: string, what: string, timeoutMs: number): Promise<string | undefined> {
    const started = host.now();
    for (;;) {
        const state = await host.inspect(container);
        const verdict = readGate(state, host.now() - started, timeoutMs);
        if (verdict.kind === "healthy") return undefined;
        if (verdict.kind === "failed") return describeContainerFailure(host, container, what, verdict.why, state);
        await host.sleep(500);
    }
}
