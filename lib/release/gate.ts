/**
 * The health gate of a new container, as a pure reading of what Docker reports. Docker's own
 * health status decides (the healthcheck the program declares); a crash, a restart or an exit
 * fails the gate at once instead of costing the whole timeout.
 */

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
