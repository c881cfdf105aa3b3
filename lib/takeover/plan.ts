/**
 * Pure planning of a takeover: from the facts of a host to what will happen to each legacy
 * container, and the refusals that stop everything before anything changes.
 */
import { DB_NAME, DB_USER, POSTGRES_DATA_DIR } from "../env";
import { ContainerFacts, HostFacts } from "./types";

/** Seconds a legacy Postgres gets to checkpoint and exit on its own before Docker kills it. */
export const DB_STOP_SECONDS = 60;
export const APP_STOP_SECONDS = 10;

/** Major version from `postgres --version` output: `postgres (PostgreSQL) 15.10 (Debian …)` → `15`; `9.6.24` → `9.6`. */
export function parseServerMajor(versionOutput: string): string | undefined {
    const m = /\(PostgreSQL\)\s+(\d+)(?:\.(\d+))?/.exec(versionOutput);
    if (!m) return undefined;
    const first = Number(m[1]);
    return first >= 10 ? String(first) : `${first}.${m[2] ?? "0"}`;
}

/** Major version of a data directory from its `PG_VERSION` file: `15`, or `9.6` before 10. */
export function parseDataMajor(pgVersionFile: string): string | undefined {
    const v = pgVersionFile.trim();
    return /^\d+(\.\d+)?$/.test(v) ? v : undefined;
}

/**
 * The image to configure for a data directory of another major version: the configured
 * repository with the major as tag (`postgres:15.10-bookworm` → `postgres:14`).
 */
export function matchingImage(configured: string, major: string): string {
    const noDigest = configured.split("@")[0];
    const slash = noDigest.lastIndexOf("/");
    const colon = noDigest.lastIndexOf(":");
    const repo = colon > slash ? noDigest.slice(0, colon) : noDigest;
    return `${repo}:${major}`;
}

/** The user and database the official image's entrypoint created: POSTGRES_USER (default postgres), POSTGRES_DB (default the user). */
export function legacyCredentials(env: Record<string, string>): { user: string; db: string } {
    const user = env.POSTGRES_USER?.trim() || "postgres";
    const db = env.POSTGRES_DB?.trim() || user;
    return { user, db };
}

/** Where a container keeps Postgres's data: PGDATA when set, else the image's default directory. */
function dataDirOf(c: ContainerFacts): string {
    return (c.env.PGDATA?.trim() || POSTGRES_DATA_DIR).replace(/\/+$/, "");
}

/** The mount holding a container's Postgres data directory, if it looks like a Postgres container. */
export function postgresDataMount(c: ContainerFacts): ContainerFacts["mounts"][number] | undefined {
    const dir = dataDirOf(c);
    // the mount at the data directory itself, or at a parent of it (PGDATA=/var/lib/postgresql/data/pgdata)
    return c.mounts.find((m) => dir === m.destination.replace(/\/+$/, "") || dir.startsWith(`${m.destination.replace(/\/+$/, "")}/`));
}

export function mountsVolume(c: ContainerFacts, volume: string): boolean {
    return c.mounts.some((m) => m.type === "volume" && m.name === volume);
}

export type Role = "db" | "app";

export interface ContainerAction {
    name: string;
    role: Role;
    state: string;
    /** Why it is in the way: the port it holds, the volume it mounts, its project. */
    reasons: string[];
    /** What the takeover does to it, in words. */
    action: string;
    stopSeconds: number;
}

export interface TakeoverPlan {
    project: string;
    dataVolume: string;
    /** No container of the legacy project is left: every step is a no-op. */
    nothingLegacy: boolean;
    /** Refusals: each one clear message; any of them stops the takeover before anything changes. */
    problems: string[];
    /** What was checked and found fine. */
    notes: string[];
    /** Legacy containers in the order they are stopped and removed: apps first, the db last. */
    actions: ContainerAction[];
    /** The legacy container that runs Postgres on the data volume, if one is left. */
    db?: ContainerFacts;
    credentials?: { user: string; db: string };
}

function describePort(p: ContainerFacts["ports"][number]): string {
    return `${p.hostIp || "0.0.0.0"}:${p.hostPort}->${p.containerPort}`;
}

/** Apps before the db; within each, web before api before the rest (the public side goes first). */
function orderKey(a: ContainerAction): string {
    const svc = a.name.toLowerCase();
    const rank = a.role === "db" ? 9 : /web|proxy|caddy|nginx/.test(svc) ? 0 : /api/.test(svc) ? 1 : 2;
    return `${rank}:${a.name}`;
}

export function planTakeover(facts: HostFacts): TakeoverPlan {
    const { project, dataVolume, publicPort, postgresImage } = facts.inputs;
    const problems: string[] = [];
    const notes: string[] = [];

    // 1. The data directory's major version against the configured image's.
    if (!facts.volume.exists) {
        notes.push(`data volume ${dataVolume} does not exist yet: the platform creates it (an empty database)`);
    } else if (facts.volume.pgVersion === undefined) {
        notes.push(`data volume ${dataVolume} holds no PG_VERSION (no data directory yet): the platform's db initialises it`);
    } else {
        const dataMajor = parseDataMajor(facts.volume.pgVersion);
        if (dataMajor === undefined) {
            problems.push(`data volume ${dataVolume} has an unreadable PG_VERSION ("${facts.volume.pgVersion}"): it is not a Postgres data directory the platform can open; check cartie:dataVolume`);
        } else if (dataMajor !== facts.imageMajor) {
            problems.push(
                `data volume ${dataVolume} was written by PostgreSQL ${dataMajor} (its PG_VERSION), but cartie:postgresImage ${postgresImage} is PostgreSQL ${facts.imageMajor}: ` +
                    `a data directory can't be opened by another major version. Run \`pulumi config set cartie:postgresImage ${matchingImage(postgresImage, dataMajor)}\` ` +
                    `(a PostgreSQL ${dataMajor} image); upgrade later with a dump and restore, never by swapping the image`,
            );
        } else {
            notes.push(`data volume ${dataVolume}: PostgreSQL ${dataMajor} data directory, matches ${postgresImage} (PostgreSQL ${facts.imageMajor})`);
        }
    }

    if (facts.legacy.length === 0) {
        notes.push(`nothing legacy left: no container of compose project ${project}; nothing to back up or take over`);
        return { project, dataVolume, nothingLegacy: true, problems, notes, actions: [] };
    }

    // 2. The legacy Postgres: it must be the one on the configured data volume.
    const onVolume = facts.legacy.filter((c) => mountsVolume(c, dataVolume));
    for (const c of facts.legacy) {
        const mount = postgresDataMount(c);
        if (!mount || onVolume.includes(c)) continue;
        if (mount.type !== "volume") {
            problems.push(
                `legacy container ${c.name} keeps its Postgres data in a ${mount.type} mount (${mount.source}), not a Docker volume: the platform can only adopt a volume. ` +
                    `Back it up with pg_dump and restore it into the platform (see docs/takeover.md)`,
            );
        } else {
            problems.push(
                `legacy container ${c.name} keeps its Postgres data in volume ${mount.name ?? mount.source}, but cartie:dataVolume is ${dataVolume}: ` +
                    `the platform would start an empty database next to the real one. Run \`pulumi config set cartie:dataVolume ${mount.name ?? mount.source}\``,
            );
        }
    }
    const liveOnVolume = onVolume.filter((c) => c.live);
    if (liveOnVolume.length > 1) {
        problems.push(`${liveOnVolume.map((c) => c.name).join(" and ")} all run on volume ${dataVolume}: two servers on one data directory; stop all but one by hand and check the data before a takeover`);
    }
    const db = liveOnVolume[0] ?? onVolume[0];

    // 3. The user and database: the platform's are fixed.
    let credentials: TakeoverPlan["credentials"];
    if (db) {
        credentials = legacyCredentials(db.env);
        if (credentials.user !== DB_USER || credentials.db !== DB_NAME) {
            problems.push(
                `legacy database ${db.name} has user "${credentials.user}" and database "${credentials.db}" (POSTGRES_USER/POSTGRES_DB), ` +
                    `but the platform connects as user "${DB_USER}" to database "${DB_NAME}": it would find no data (or an empty database) there. ` +
                    `Rename them in the legacy database first (ALTER ROLE … RENAME TO ${DB_USER}; ALTER DATABASE … RENAME TO ${DB_NAME}) and set POSTGRES_USER/POSTGRES_DB to match, or restore the backup into a fresh platform; see docs/takeover.md`,
            );
        } else {
            notes.push(`legacy database ${db.name}: user "${credentials.user}", database "${credentials.db}" (the platform's)`);
            if (facts.passwordAccepted === false) {
                problems.push(
                    `the legacy database ${db.name} refuses cartie:postgresPassword for user "${DB_USER}": the platform's db starts on the existing data directory, where POSTGRES_PASSWORD is not applied again. ` +
                        `Set cartie:postgresPassword to the legacy password (POSTGRES_PASSWORD of ${db.name}: \`docker inspect ${db.name}\`) with \`pulumi config set --secret cartie:postgresPassword …\``,
                );
            } else if (facts.passwordAccepted === true) {
                notes.push(`legacy database ${db.name} accepts cartie:postgresPassword for user "${DB_USER}"`);
            }
        }
    } else {
        notes.push(`no legacy container of ${project} mounts ${dataVolume}: the legacy db is already gone`);
    }

    // 4. Anything outside the project using the data volume.
    for (const c of facts.others) {
        if (c.live) {
            problems.push(`container ${c.name} (not part of compose project ${project}) runs on volume ${dataVolume}: stop it first; two Postgres servers must never share a data directory`);
        } else {
            notes.push(`stopped container ${c.name} (not part of ${project}) also mounts ${dataVolume}: left alone; never start it again`);
        }
    }

    // 5. What happens to each legacy container.
    const actions: ContainerAction[] = facts.legacy.map((c) => {
        const isDb = onVolume.includes(c);
        const reasons: string[] = [];
        if (isDb) reasons.push(`mounts data volume ${dataVolume}`);
        const onPort = c.ports.filter((p) => p.hostPort === publicPort);
        if (onPort.length > 0) reasons.push(`holds public port ${onPort.map(describePort).join(", ")}`);
        reasons.push(`compose project ${project}${c.service ? `, service ${c.service}` : ""}`);
        const action = isDb
            ? `back up, then stop (up to ${DB_STOP_SECONDS} s to checkpoint) and remove the container; volume ${dataVolume} is kept and adopted`
            : `stop and remove the container (its volumes are kept)`;
        return { name: c.name, role: isDb ? "db" : "app", state: c.state, reasons, action, stopSeconds: isDb ? DB_STOP_SECONDS : APP_STOP_SECONDS };
    });
    actions.sort((a, b) => (orderKey(a) < orderKey(b) ? -1 : orderKey(a) > orderKey(b) ? 1 : 0));

    return { project, dataVolume, nothingLegacy: false, problems, notes, actions, db, credentials };
}

/** The preflight report a person reads in `pulumi up`. */
export function renderPlan(plan: TakeoverPlan): string[] {
    const lines: string[] = [`takeover of compose project ${plan.project}, data volume ${plan.dataVolume}`];
    for (const n of plan.notes) lines.push(`  ok: ${n}`);
    if (plan.actions.length > 0) {
        lines.push("  legacy containers, in the order they will be stopped and removed:");
        plan.actions.forEach((a, i) => lines.push(`    ${i + 1}. ${a.name} (${a.state}; ${a.reasons.join("; ")}): ${a.action}`));
    }
    for (const p of plan.problems) lines.push(`  REFUSED: ${p}`);
    if (plan.problems.length > 0) lines.push("  nothing was changed");
    return lines;
}

export class TakeoverRefused extends Error {
    constructor(message: string, readonly log: string[] = []) {
        super(message);
        this.name = "TakeoverRefused";
    }
}
