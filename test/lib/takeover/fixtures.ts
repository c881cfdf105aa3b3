import { ContainerFacts, HostFacts } from "../../../lib/takeover/types";

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

export function facts(over: Partial<HostFacts> = {}): HostFacts {
    return {
        inputs: { project: "infra2", dataVolume: "infra2_db-data", publicPort: 8082, postgresImage: "postgres:15.10-bookworm" },
        imageMajor: "15",
        volume: { exists: true, pgVersion: "15" },
        legacy: [legacyDb(), legacyApi(), legacyWeb()],
        others: [],
        ...over,
    };
}
