import { ResourceValidationPolicy } from "@pulumi/policy";
import { POSTGRES_DATA_DIR } from "../lib/env";
import { LABELS } from "../lib/docker/labels";
import { Finding, Props, TYPES, asArray, asString, isRecord, known, rule } from "./util";

interface DataConfig {
    dbContainer: string;
    dataDir: string;
}

/** How the db container stores its data directory: a named volume, a bind mount, or nothing. */
function dataDirMount(props: Props, dataDir: string): { kind: "volume" | "bind" | "anonymous" | "tmpfs" | "none"; source?: string } {
    const norm = (p: string | undefined): string | undefined => p?.replace(/\/+$/, "");
    for (const m of asArray(known(() => props.mounts))) {
        if (!isRecord(m) || norm(asString(m.target)) !== norm(dataDir)) continue;
        const type = asString(m.type) ?? "volume";
        const source = asString(m.source);
        if (type === "bind") return { kind: "bind", source };
        if (type === "tmpfs") return { kind: "tmpfs" };
        return source ? { kind: "volume", source } : { kind: "anonymous" };
    }
    // The provider's older `volumes` block.
    for (const v of asArray(known(() => props.volumes))) {
        if (!isRecord(v) || norm(asString(v.containerPath)) !== norm(dataDir)) continue;
        if (asString(v.hostPath)) return { kind: "bind", source: asString(v.hostPath) };
        const source = asString(v.volumeName);
        return source ? { kind: "volume", source } : { kind: "anonymous" };
    }
    return { kind: "none" };
}

/** The one volume that holds no data: the routes responder's records, which every release writes again. */
const DERIVED_VOLUME = "routes-data";

function componentOf(props: Props): string | undefined {
    for (const l of asArray(known(() => props.labels))) if (isRecord(l) && asString(l.label) === LABELS.component) return asString(l.value);
    return undefined;
}

export const dataIsProtected: ResourceValidationPolicy = rule<DataConfig>({
    name: "data-is-protected",
    description:
        "Docker volumes (the database data) are `protect`ed, and the db container keeps Postgres's data directory on a named volume. The routes responder's records are no data: the release writes them again.",
    config: {
        dbContainer: { schema: { type: "string", description: "Resource name of the database container" }, default: "db" },
        dataDir: { schema: { type: "string", description: "Postgres's data directory inside the container" }, default: POSTGRES_DATA_DIR },
    },
    types: [TYPES.volume, TYPES.container],
    check(props: Props, args, config): Finding[] {
        if (args.type === TYPES.volume) {
            // Policies see `protect` but not `retainOnDelete`: the program sets both.
            return args.opts.protect || componentOf(props) === DERIVED_VOLUME
                ? []
                : [
                      {
                          problem: "the volume is not protected, so `pulumi destroy` or a replacement would delete the data on it",
                          fix: "create it with the resource options { protect: true, retainOnDelete: true }",
                      },
                  ];
        }
        if (args.name !== config.dbContainer) return [];
        const mount = dataDirMount(props, config.dataDir);
        const fix = `mount the protected data volume there: mounts: [{ type: "volume", source: <volume name>, target: "${config.dataDir}" }]`;
        switch (mount.kind) {
            case "volume":
                return [];
            case "none":
                return [{ problem: `nothing is mounted at ${config.dataDir}, so the database lives in the container and dies with it`, fix }];
            case "anonymous":
                return [{ problem: `${config.dataDir} is on an anonymous volume, which nothing protects or finds again`, fix }];
            case "tmpfs":
                return [{ problem: `${config.dataDir} is on tmpfs: every row is lost when the container stops`, fix }];
            case "bind":
                return [{ problem: `${config.dataDir} is a bind mount of a host folder, not a named volume the program protects`, fix }];
        }
    },
});
