/**
 * Creates a container from the inputs the program registers for a `docker.Container` (name,
 * image, envs, command, networks with aliases, healthcheck in its exact CMD form, published
 * ports, mounts, uploads, restart policy, labels) through the Docker Engine API, then waits for
 * it to be healthy as the provider's `wait: true` does. Uploads are copied in before the start.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import Docker from "dockerode";
import { parseGoDuration } from "../../../lib/docker/duration";
import { ContainerInputs } from "./program";
import { dockerOk, docker as dockerCli, sleep } from "./run";

const engine = new Docker();

/**
 * A registered duration (Go's form, as the program writes it: `1m0s`, `10s`, `500ms`) → nanoseconds,
 * the Engine API's unit. Parsed by the program's own lib/docker/duration.ts, so both read it alike.
 */
function durationNs(d: string | undefined): number | undefined {
    if (!d) return undefined;
    const seconds = parseGoDuration(d);
    if (seconds === undefined) throw new Error(`unsupported duration ${d}`);
    return Math.round(seconds * 1e9);
}

export interface CreateOverrides {
    /** The image to run (the registered input can be a mocked image id). */
    image: string;
    name?: string;
    /** Replaces the registered networks (same aliases, other network). */
    network?: string;
    /** Replaces the source of the registered volume mount. */
    volume?: string;
}

export async function createFromInputs(spec: ContainerInputs, o: CreateOverrides): Promise<string> {
    const name = o.name ?? spec.name;
    const networks = (spec.networksAdvanced ?? []).map((n) => ({ name: o.network ?? n.name, aliases: n.aliases ?? [] }));
    const exposed: Record<string, object> = {};
    const bindings: Record<string, Array<{ HostIp: string; HostPort: string }>> = {};
    for (const p of spec.ports ?? []) {
        const key = `${p.internal}/${p.protocol ?? "tcp"}`;
        exposed[key] = {};
        bindings[key] = [{ HostIp: p.ip ?? "", HostPort: p.external ? String(p.external) : "" }];
    }
    const hc = spec.healthcheck;
    await engine.createContainer({
        name,
        Image: o.image,
        Env: spec.envs ?? [],
        Cmd: spec.command,
        Labels: Object.fromEntries((spec.labels ?? []).map((l) => [l.label, l.value])),
        ExposedPorts: exposed,
        StopTimeout: spec.stopTimeout,
        Healthcheck: hc
            ? { Test: hc.tests, Interval: durationNs(hc.interval), Timeout: durationNs(hc.timeout), Retries: hc.retries, StartPeriod: durationNs(hc.startPeriod) }
            : undefined,
        HostConfig: {
            NetworkMode: networks[0]?.name,
            PortBindings: bindings,
            // `volume` replaces the data volume only (the one at Postgres's data directory), not the db-secrets volume.
            Mounts: (spec.mounts ?? []).map((m) => ({ Type: m.type as "volume", Source: o.volume && !m.readOnly ? o.volume : m.source, Target: m.target, ReadOnly: m.readOnly })),
            RestartPolicy: spec.restart ? { Name: spec.restart } : undefined,
        },
        NetworkingConfig: networks[0] ? { EndpointsConfig: { [networks[0].name]: { Aliases: networks[0].aliases } } } : undefined,
    });
    for (const u of spec.uploads ?? []) {
        const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "cartie-real-upload-"));
        try {
            const file = path.join(tmp, path.basename(u.file));
            fs.writeFileSync(file, u.content);
            await dockerOk(["cp", file, `${name}:${u.file}`]);
        } finally {
            fs.rmSync(tmp, { recursive: true, force: true });
        }
    }
    await engine.getContainer(name).start();
    return name;
}

/** Waits for Docker's health status `healthy`, failing early on `unhealthy` or an exit, with the logs. */
export async function waitHealthy(name: string, timeoutMs = 180_000): Promise<void> {
    const until = Date.now() + timeoutMs;
    for (;;) {
        const info = await engine.getContainer(name).inspect();
        const health = info.State.Health?.Status;
        if (health === "healthy") return;
        if (health === "unhealthy" || !info.State.Running || Date.now() > until) {
            const logs = await dockerCli(["logs", "--tail", "30", name]);
            const probes = (info.State.Health?.Log ?? []).slice(-3).map((l) => `exit ${l.ExitCode}: ${l.Output.trim()}`);
            throw new Error(
                `${name} is ${info.State.Running ? health ?? "without health" : `not running (exit ${info.State.ExitCode})`}` +
                    `${Date.now() > until ? ` after ${timeoutMs} ms` : ""}\nprobes: ${probes.join(" | ")}\nlogs:\n${logs.stdout}${logs.stderr}`,
            );
        }
        await sleep(500);
    }
}

export async function inspect(name: string): Promise<Docker.ContainerInspectInfo> {
    return engine.getContainer(name).inspect();
}
