/** Facts about a Docker host that the takeover plans from: read by `host.ts`, planned on by `plan.ts`. */

export const COMPOSE_PROJECT_LABEL = "com.docker.compose.project";
export const COMPOSE_SERVICE_LABEL = "com.docker.compose.service";
/** Label on the throwaway containers the takeover starts, so a person can find a leftover one. */
export const TAKEOVER_LABEL = "io.cartie.platform.takeover";

export interface ContainerMount {
    /** `volume` or `bind` (or `tmpfs`). */
    type: string;
    /** Volume name, for volume mounts. */
    name?: string;
    source: string;
    destination: string;
}

export interface PublishedPort {
    hostIp: string;
    /** 0 when Docker picks one. */
    hostPort: number;
    /** e.g. `8080/tcp`. */
    containerPort: string;
}

export interface ContainerFacts {
    id: string;
    name: string;
    image: string;
    /** Compose service (`db`, `api`, `web`), when labelled. */
    service?: string;
    /** Docker's state: running, restarting, exited, created, paused, removing, dead. */
    state: string;
    /** Running or restarting: a process may be using its mounts right now. */
    live: boolean;
    mounts: ContainerMount[];
    ports: PublishedPort[];
    env: Record<string, string>;
    networks: { name: string; ip: string }[];
}

export interface TakeoverInputs {
    /** Compose project of the legacy host, e.g. `infra2`. */
    project: string;
    /** The Postgres data volume the platform's db will use. */
    dataVolume: string;
    publicPort: number;
    /** The configured Postgres image (`cartie:postgresImage`). */
    postgresImage: string;
    /** `cartie:pgdataSubdir`: the data directory's folder in the volume ("" for its root). */
    pgdataSubdir: string;
    /** `cartie:dbUser` / `cartie:dbName`: what the platform will connect as. */
    dbUser: string;
    dbName: string;
}

/** What a read-only look into the data volume found. */
export interface VolumeProbe {
    /** Names at the volume's root. */
    entries: string[];
    /** Folder of the volume ("" for its root) → its `PG_VERSION` (trimmed), for every folder that has one among those looked at. */
    pgVersions: Record<string, string>;
}

export interface HostFacts {
    inputs: TakeoverInputs;
    /** Major version of the configured image's `postgres --version`, e.g. `15` (or `9.6`). */
    imageMajor: string;
    volume: { exists: boolean } & VolumeProbe;
    /** Every container labelled with the legacy compose project, running or not. */
    legacy: ContainerFacts[];
    /** Containers outside the legacy project that mount the data volume. */
    others: ContainerFacts[];
    /**
     * Whether the legacy database accepted the configured password over TCP (the way the
     * platform's api connects); undefined when it was not checked (no running legacy db).
     */
    passwordAccepted?: boolean;
}

/** The steps, in the order the command resources run them. */
export const TAKEOVER_STEPS = ["preflight", "backup", "takeover"] as const;
export type TakeoverStep = (typeof TAKEOVER_STEPS)[number];

/** The command a resource runs for a step: a tested module of this project, not a shell one-liner. */
export function takeoverCommand(step: TakeoverStep): string {
    return `node --import tsx scripts/takeover.ts ${step}`;
}
