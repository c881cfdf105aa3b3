/**
 * The Docker reads and writes of a takeover, through the docker CLI without a shell. Passwords
 * travel in the environment of the CLI (`-e PGPASSWORD` copies it), never in argv.
 */
import * as crypto from "node:crypto";
import { dockerToFile } from "../backup/postgres";
import { docker } from "../docker/cli";
import { VOLUME_PROBE_SCRIPT, parseVolumeProbe, toContainerFacts } from "./inspect";
import { COMPOSE_PROJECT_LABEL, ContainerFacts, TAKEOVER_LABEL, VolumeProbe } from "./types";

export interface DbAddress {
    network: string;
    host: string;
    user: string;
    db: string;
}

/** What the steps need from a Docker host; `dockerHost()` is the real one, tests may fake it. */
export interface TakeoverHost {
    projectContainers(project: string): Promise<ContainerFacts[]>;
    volumeContainers(volume: string): Promise<ContainerFacts[]>;
    volumeExists(volume: string): Promise<boolean>;
    /**
     * A read-only look into the volume by a throwaway container of `image`: the names at its root,
     * and `PG_VERSION` of its root, of each folder at its root and of each of `subdirs`.
     */
    probeVolume(image: string, volume: string, subdirs: string[]): Promise<VolumeProbe>;
    /** `postgres --version` of the image. */
    serverVersion(image: string): Promise<string>;
    /** Whether the server accepts the password over TCP. */
    checkPassword(image: string, at: DbAddress, password: string): Promise<boolean>;
    /** Plain-format pg_dump streamed into `outFile` from a throwaway container of `image`. */
    dump(image: string, at: DbAddress, password: string, outFile: string): Promise<void>;
    /** `docker stop`; `signal` overrides the container's stop signal (SIGINT: Postgres's fast shutdown). */
    stop(name: string, seconds: number, signal?: string): Promise<"stopped" | "gone">;
    /** `docker rm` without `-v`: the container's volumes stay. */
    remove(name: string): Promise<"removed" | "gone">;
    exists(name: string): Promise<boolean>;
    /** Names of running containers that mount the volume. */
    liveOnVolume(volume: string): Promise<string[]>;
    sleep(ms: number): Promise<void>;
}

const PROBE_DIR = "/cartie-takeover-probe";

function throwawayName(kind: string): string {
    return `cartie-takeover-${kind}-${crypto.randomBytes(4).toString("hex")}`;
}

const noSuch = (stderr: string): boolean => /no such (container|object)/i.test(stderr);

async function inspectAll(ids: string[]): Promise<ContainerFacts[]> {
    if (ids.length === 0) return [];
    const r = await docker(["container", "inspect", ...ids]);
    // A container removed between the list and the inspect: inspect the rest again.
    if (r.code !== 0) {
        if (!noSuch(r.stderr)) throw new Error(`docker container inspect failed: ${r.stderr.trim()}`);
        const each = await Promise.all(ids.map((id) => docker(["container", "inspect", id])));
        return each.filter((x) => x.code === 0).flatMap((x) => (JSON.parse(x.stdout) as unknown[]).map(toContainerFacts));
    }
    return (JSON.parse(r.stdout) as unknown[]).map(toContainerFacts);
}

async function listIds(filters: string[]): Promise<string[]> {
    const r = await docker(["ps", "-a", "-q", "--no-trunc", ...filters.flatMap((f) => ["--filter", f])]);
    if (r.code !== 0) throw new Error(`docker ps failed: ${r.stderr.trim()}`);
    return r.stdout.split(/\s+/).filter(Boolean);
}

export function dockerHost(): TakeoverHost {
    const throwaway = (kind: string, image: string, extra: string[]): string[] => [
        "run",
        "--rm",
        "--name",
        throwawayName(kind),
        "--label",
        `${TAKEOVER_LABEL}=${kind}`,
        ...extra,
        image,
    ];
    return {
        projectContainers: async (project) => inspectAll(await listIds([`label=${COMPOSE_PROJECT_LABEL}=${project}`])),
        volumeContainers: async (volume) => inspectAll(await listIds([`volume=${volume}`])),
        async volumeExists(volume) {
            const r = await docker(["volume", "inspect", volume]);
            if (r.code === 0) return true;
            if (noSuch(r.stderr) || /no such volume/i.test(r.stderr)) return false;
            throw new Error(`docker volume inspect ${volume} failed: ${r.stderr.trim()}`);
        },
        async probeVolume(image, volume, subdirs) {
            // Read-only, at a path of its own: the image's entrypoint never runs, nothing is written. Folders are arguments, never script text.
            const r = await docker([
                ...throwaway("probe", image, ["--network", "none", "--entrypoint", "sh", "-v", `${volume}:${PROBE_DIR}:ro`]),
                "-c",
                VOLUME_PROBE_SCRIPT,
                "probe",
                PROBE_DIR,
                ...subdirs.filter((d) => d !== ""),
            ]);
            if (r.code !== 0) throw new Error(`looking into volume ${volume} with ${image} failed (exit ${r.code}): ${r.stderr.trim()}`);
            return parseVolumeProbe(r.stdout);
        },
        async serverVersion(image) {
            const r = await docker([...throwaway("version", image, ["--network", "none", "--entrypoint", "postgres"]), "--version"]);
            if (r.code !== 0) throw new Error(`\`postgres --version\` in ${image} failed: ${r.stderr.trim()}`);
            return r.stdout.trim();
        },
        async checkPassword(image, at, password) {
            const r = await docker(
                [...throwaway("auth", image, ["--network", at.network, "-e", "PGPASSWORD", "--entrypoint", "psql"]), "-X", "-w", "-h", at.host, "-U", at.user, "-d", at.db, "-Atc", "SELECT 1"],
                { env: { ...process.env, PGPASSWORD: password } },
            );
            if (r.code === 0) return true;
            if (/password authentication failed|no password supplied/i.test(r.stderr)) return false;
            throw new Error(`connecting to the legacy database at ${at.host} on ${at.network} failed: ${r.stderr.trim()}`);
        },
        dump(image, at, password, outFile) {
            const args = [...throwaway("backup", image, ["--network", at.network, "-e", "PGPASSWORD", "--entrypoint", "pg_dump"]), "-w", "-h", at.host, "-U", at.user, "-d", at.db, "--format=plain"];
            return dockerToFile(args, outFile, `pg_dump of ${at.db} at ${at.host}`, { ...process.env, PGPASSWORD: password });
        },
        async stop(name, seconds, signal) {
            const r = await docker(["stop", "-t", String(seconds), ...(signal ? ["--signal", signal] : []), name], { timeoutMs: (seconds + 60) * 1000 });
            if (r.code === 0) return "stopped";
            if (noSuch(r.stderr)) return "gone";
            throw new Error(`docker stop ${name} failed: ${r.stderr.trim()}`);
        },
        async remove(name) {
            const r = await docker(["rm", name]);
            if (r.code === 0) return "removed";
            if (noSuch(r.stderr)) return "gone";
            if (/already in progress/i.test(r.stderr)) return "removed";
            throw new Error(`docker rm ${name} failed: ${r.stderr.trim()}`);
        },
        async exists(name) {
            const r = await docker(["container", "inspect", "--format", "{{.Id}}", name]);
            if (r.code === 0) return true;
            if (noSuch(r.stderr)) return false;
            throw new Error(`docker container inspect ${name} failed: ${r.stderr.trim()}`);
        },
        async liveOnVolume(volume) {
            const r = await docker(["ps", "--filter", `volume=${volume}`, "--format", "{{.Names}}"]);
            if (r.code !== 0) throw new Error(`docker ps failed: ${r.stderr.trim()}`);
            return r.stdout.split(/\s+/).filter(Boolean);
        },
        sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
    };
}
