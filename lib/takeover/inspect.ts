/** Pure mapping of `docker inspect` JSON to the facts the plan reads. */
import { COMPOSE_SERVICE_LABEL, ContainerFacts, VolumeProbe } from "./types";

interface InspectJson {
    Id?: string;
    Name?: string;
    Config?: { Image?: string; Env?: string[] | null; Labels?: Record<string, string> | null };
    State?: { Status?: string; Running?: boolean; Restarting?: boolean };
    Mounts?: { Type?: string; Name?: string; Source?: string; Destination?: string }[] | null;
    HostConfig?: { PortBindings?: Record<string, { HostIp?: string; HostPort?: string }[] | null> | null };
    NetworkSettings?: {
        Ports?: Record<string, { HostIp?: string; HostPort?: string }[] | null> | null;
        Networks?: Record<string, { IPAddress?: string }> | null;
    };
}

export function envMap(list: string[] | null | undefined): Record<string, string> {
    const out: Record<string, string> = {};
    for (const e of list ?? []) {
        const i = e.indexOf("=");
        if (i > 0) out[e.slice(0, i)] = e.slice(i + 1);
    }
    return out;
}

const WILDCARD_IPS = new Set(["", "0.0.0.0", "::"]);

export function toContainerFacts(raw: unknown): ContainerFacts {
    const j = raw as InspectJson;
    const ports: ContainerFacts["ports"] = [];
    const seen = new Set<string>();
    // Configured bindings (also for a stopped container) and the live ones (a random host port resolved).
    for (const source of [j.HostConfig?.PortBindings, j.NetworkSettings?.Ports]) {
        for (const [containerPort, bindings] of Object.entries(source ?? {})) {
            for (const b of bindings ?? []) {
                const hostPort = Number(b.HostPort ?? "0") || 0;
                // Docker lists a port bound on every interface once per address family (and "" in the config): one binding.
                const hostIp = WILDCARD_IPS.has(b.HostIp ?? "") ? "0.0.0.0" : (b.HostIp ?? "");
                const key = `${hostIp}|${hostPort}|${containerPort}`;
                if (seen.has(key) || (hostPort === 0 && source === j.NetworkSettings?.Ports)) continue;
                seen.add(key);
                ports.push({ hostIp, hostPort, containerPort });
            }
        }
    }
    const state = j.State?.Status ?? "unknown";
    return {
        id: j.Id ?? "",
        name: (j.Name ?? "").replace(/^\//, ""),
        image: j.Config?.Image ?? "",
        service: j.Config?.Labels?.[COMPOSE_SERVICE_LABEL],
        state,
        live: j.State?.Running === true || j.State?.Restarting === true || state === "running" || state === "restarting" || state === "paused",
        mounts: (j.Mounts ?? []).map((m) => ({ type: m.Type ?? "", name: m.Name || undefined, source: m.Source ?? "", destination: m.Destination ?? "" })),
        ports,
        env: envMap(j.Config?.Env),
        networks: Object.entries(j.NetworkSettings?.Networks ?? {}).map(([name, n]) => ({ name, ip: n.IPAddress ?? "" })),
    };
}

/** The network and address to reach a container on: its compose project's default network first. */
export function reachableAddress(c: ContainerFacts, project: string): { network: string; host: string } | undefined {
    const withIp = c.networks.filter((n) => n.ip !== "");
    const pick = withIp.find((n) => n.name === `${project}_default`) ?? withIp.find((n) => n.name !== "host" && n.name !== "none");
    return pick ? { network: pick.name, host: pick.ip } : undefined;
}

/**
 * Run by `sh -c` in a throwaway container with the volume at `$1` and the folders to look at as
 * further arguments: one `entry <name>` line per name at the root, one `pgversion <folder>\t<content>`
 * per folder holding a PG_VERSION file (the root, every folder at the root, each argument).
 */
export const VOLUME_PROBE_SCRIPT = [
    'cd "$1" || exit 3',
    "shift",
    'for e in .* *; do case "$e" in .|..) continue ;; esac; if [ -e "$e" ] || [ -L "$e" ]; then printf "entry %s\\n" "$e"; fi; done',
    'for d in "" "$@" */; do d=${d%/}; f=${d:+$d/}PG_VERSION; if [ -f "$f" ]; then printf "pgversion %s\\t%s\\n" "$d" "$(head -c 64 "$f" | tr -d "\\n\\t")"; fi; done',
].join("\n");

export function parseVolumeProbe(stdout: string): VolumeProbe {
    const entries: string[] = [];
    const pgVersions: Record<string, string> = {};
    for (const line of stdout.split("\n")) {
        if (line.startsWith("entry ")) entries.push(line.slice("entry ".length));
        else if (line.startsWith("pgversion ")) {
            const [dir, version] = line.slice("pgversion ".length).split("\t");
            pgVersions[dir] = (version ?? "").trim();
        }
    }
    return { entries: [...new Set(entries)].sort(), pgVersions };
}
