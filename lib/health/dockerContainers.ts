/** The health gate's reader on Docker: `docker inspect` and `docker logs` through the CLI (honouring DOCKER_HOST). */
import { docker } from "../docker/cli";
import { ContainerReader, ContainerState } from "./gate";

interface InspectState {
    State: { Running: boolean; Restarting: boolean; ExitCode: number; Health?: { Status: string; Log?: Array<{ Output: string }> } };
    RestartCount: number;
}

/** The CLI's words for an object that does not exist. */
export const isGone = (stderr: string): boolean => /No such (container|object)/i.test(stderr);

export function dockerContainerReader(): ContainerReader {
    return {
        async inspect(container): Promise<ContainerState | undefined> {
            const r = await docker(["inspect", "--type", "container", container]);
            if (r.code !== 0) {
                if (isGone(r.stderr)) return undefined;
                throw new Error(`docker inspect ${container} failed: ${r.stderr.trim()}`);
            }
            const [info] = JSON.parse(r.stdout) as InspectState[];
            const health = info.State.Health?.Status;
            return {
                name: container,
                running: info.State.Running,
                restarting: info.State.Restarting,
                exitCode: info.State.ExitCode,
                restartCount: info.RestartCount,
                health: health === "starting" || health === "healthy" || health === "unhealthy" ? health : undefined,
                probes: (info.State.Health?.Log ?? []).map((l) => l.Output),
            };
        },
        async logTail(container, lines) {
            const r = await docker(["logs", "--tail", String(lines), container]);
            return `${r.stdout}${r.stderr}`;
        },
        now: () => Date.now(),
        sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
    };
}
