/**
 * What the Docker daemon the program deploys to supports, where an input depends on it.
 *
 * Docker Engine API 1.44 (Docker 25) added the healthcheck's `start_interval`; an older daemon
 * refuses to create a container that sets it ("specify health-check start interval requires API
 * version 1.44", seen on Debian 12's docker.io 20.10, API 1.41, through docker provider v5.1.0).
 * Debian 12 and Ubuntu 22.04 ship such daemons, so the program asks the daemon first.
 */
import Docker from "dockerode";

export interface DockerDaemon {
    /** The daemon's Engine API version, e.g. `1.41`. */
    apiVersion: string;
    /** How it was learned, for the notice a fallback prints. */
    detectedBy?: string;
}

/** An API version every supported daemon speaks: what the program assumes when it cannot ask. */
export const BASELINE_DAEMON: DockerDaemon = { apiVersion: "1.41", detectedBy: "assumed: the daemon could not be asked" };

/** `a` compared with `b` as Docker API versions (`1.41` < `1.44` < `1.100`). */
export function compareApiVersions(a: string, b: string): number {
    const pa = a.split(".").map(Number);
    const pb = b.split(".").map(Number);
    for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
        const d = (pa[i] ?? 0) - (pb[i] ?? 0);
        if (d !== 0) return d;
    }
    return 0;
}

/** Healthchecks may set `startInterval` (probe faster while the container starts). */
export const supportsStartInterval = (d: DockerDaemon): boolean => compareApiVersions(d.apiVersion, "1.44") >= 0;

/** dockerode's connection options for a `docker:host` value (`unix:///…`, `tcp://host:port`); undefined for the environment's (DOCKER_HOST). */
export function connectionOf(host: string | undefined): Docker.DockerOptions | undefined {
    if (!host) return undefined;
    const u = new URL(host);
    if (u.protocol === "unix:") return { socketPath: u.pathname };
    if (u.protocol === "tcp:" || u.protocol === "http:" || u.protocol === "https:") return { host: u.hostname, port: Number(u.port || 2375), protocol: u.protocol === "https:" ? "https" : "http" };
    if (u.protocol === "ssh:") return { host: u.hostname, port: Number(u.port || 22), username: u.username || undefined, protocol: "ssh" };
    throw new Error(`docker:host "${host}" is not a unix://, tcp:// or ssh:// address`);
}

/**
 * Asks the daemon (the one `docker:host` names, else DOCKER_HOST's, else the local socket) its API
 * version, within `timeoutMs`. Never throws: a daemon that does not answer gives BASELINE_DAEMON
 * with the reason, and the provider itself then says what is wrong with the connection.
 */
export async function detectDaemon(host?: string, timeoutMs = 5000): Promise<DockerDaemon> {
    try {
        const client = new Docker({ ...connectionOf(host), timeout: timeoutMs });
        const v = await client.version();
        if (typeof v.ApiVersion !== "string" || !/^\d+\.\d+$/.test(v.ApiVersion)) throw new Error(`unexpected ApiVersion ${String(v.ApiVersion)}`);
        return { apiVersion: v.ApiVersion, detectedBy: `asked the daemon${host ? ` at ${host}` : ""}` };
    } catch (err) {
        return { ...BASELINE_DAEMON, detectedBy: `assumed API ${BASELINE_DAEMON.apiVersion}: the daemon did not answer (${(err as Error).message.split("\n")[0]})` };
    }
}
