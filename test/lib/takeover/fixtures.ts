import { ContainerFacts, HostFacts, TakeoverInputs, VolumeProbe } from "../../../lib/takeover/types";

export function container(name: string, over: Partial<ContainerFacts> = {}): ContainerFacts {
    return {
        id: `id-${name}`,
        name,
        image: "x",
        state: "running",
        live: true,
        mounts: [],
        ports: [],
        env: {},
        networks: [{ name: "infra2_default", ip: "172.18.0.2" }],
        ...over,
    };
}

export const legacyDb = (over: Partial<ContainerFacts> = {}): ContainerFacts =>
    container("infra2-db-1", {
        service: "db",
        image: "postgres:15",
        mounts: [{ type: "volume", name: "infra2_db-data", source: "/var/lib/docker/volumes/infra2_db-data/_data", destination: "/var/lib/postgresql/data" }],
        env: { POSTGRES_USER: "cartie", POSTGRES_DB: "cartie", POSTGRES_PASSWORD: "pw" },
        ...over,
    });
export const legacyApi = (over: Partial<ContainerFacts> = {}): ContainerFacts => container("infra2-api-1", { service: "api", state: "restarting", ...over });
export const legacyWeb = (over: Partial<ContainerFacts> = {}): ContainerFacts =>
    container("infra2-web-1", { service: "web", ports: [{ hostIp: "0.0.0.0", hostPort: 8082, containerPort: "8080/tcp" }], ...over });

export const INPUTS: TakeoverInputs = {
    project: "infra2",
    dataVolume: "infra2_db-data",
    publicPort: 8082,
    postgresImage: "postgres:15.10-bookworm",
    pgdataSubdir: "",
    dbUser: "cartie",
    dbName: "cartie",
};

/** A volume holding one data directory at `subdir` ("" for the root) with this PG_VERSION; no `pgVersion`: an empty volume. */
export function dataVolume(pgVersion: string | undefined, subdir = ""): VolumeProbe {
    if (pgVersion === undefined) return { entries: [], pgVersions: {} };
    return { entries: subdir === "" ? ["PG_VERSION", "base", "global", "postgresql.conf"] : [subdir.split("/")[0]], pgVersions: { [subdir]: pgVersion } };
}

/** `volume` may be the shorthand `{ exists, pgVersion }`: a data directory at the volume's root (or none). */
export type FactsOverrides = Omit<Partial<HostFacts>, "volume"> & { volume?: HostFacts["volume"] | { exists: boolean; pgVersion?: string } };

export function facts(over: FactsOverrides = {}): HostFacts {
    const { volume, ...rest } = over;
    const v = volume ?? { exists: true, pgVersion: "15" };
    return {
        inputs: { ...INPUTS },
        imageMajor: "15",
        volume: "entries" in v ? v : { exists: v.exists, ...dataVolume(v.exists ? v.pgVersion : undefined) },
        legacy: [legacyDb(), legacyApi(), legacyWeb()],
        others: [],
        ...rest,
    };
}
