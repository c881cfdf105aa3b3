/**
 * Pure planning of a takeover: from the facts of a host to what will happen to each legacy
 * container, and the refusals that stop everything before anything changes.
 */
import { POSTGRES_DATA_DIR } from "../env";
import { ContainerFacts, ContainerMount, HostFacts } from "./types";

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

/** Where a container keeps Postgres's data: PGDATA when set (the image's own ENV is in the container's), else the default directory. */
export function dataDirOf(c: ContainerFacts): string {
    return (c.env.PGDATA?.trim() || POSTGRES_DATA_DIR).replace(/\/+$/, "");
}

const trimSlashes = (p: string): string => p.replace(/\/+$/, "");

/** The mount holding a container's Postgres data directory: the deepest one at or above it (PGDATA=/var/lib/postgresql/data/pgdata). */
export function postgresDataMount(c: ContainerFacts): ContainerMount | undefined {
    const dir = dataDirOf(c);
    return c.mounts
        .filter((m) => dir === trimSlashes(m.destination) || dir.startsWith(`${trimSlashes(m.destination)}/`))
        .sort((a, b) => trimSlashes(b.destination).length - trimSlashes(a.destination).length)[0];
}

/** Where a legacy db's data directory is: its mount, its PGDATA, and the folder of the mount it is in ("" at the mount itself). */
export interface DataLocation {
    mount: ContainerMount;
    pgdata: string;
    subdir: string;
}

export function dataLocation(c: ContainerFacts): DataLocation | undefined {
    const mount = postgresDataMount(c);
    if (!mount) return undefined;
    const pgdata = dataDirOf(c);
    return { mount, pgdata, subdir: pgdata.slice(trimSlashes(mount.destination).length).replace(/^\/+/, "") };
}

/** What is in the data volume where the platform's db will look for its data directory. */
export type DataDirFinding =
    | { kind: "absent" }
    | { kind: "empty" }
    | { kind: "found"; subdir: string; pgVersion: string }
    | { kind: "not-a-data-directory"; reason: string };

const where = (subdir: string): string => (subdir === "" ? "its root" : `${subdir}/`);

export function pgdataSubdirFix(subdir: string): string {
    return subdir === "" ? "`pulumi config rm cartie:pgdataSubdir`" : `\`pulumi config set cartie:pgdataSubdir ${subdir}\``;
}

/**
 * Finds the data directory in the volume at `subdir` (the legacy db's, or `cartie:pgdataSubdir`
 * with no legacy db left). A volume whose root is neither a data directory nor the parent of the
 * one looked for is refused: the platform's db would run initdb on a folder that is not empty and
 * crash-loop after the legacy db is gone.
 */
export function findDataDirectory(volumeName: string, volume: HostFacts["volume"], subdir: string, usedBy?: { name: string; location: DataLocation }): DataDirFinding {
    if (!volume.exists) return { kind: "absent" };
    const pgVersion = volume.pgVersions[subdir];
    if (pgVersion !== undefined) return { kind: "found", subdir, pgVersion };
    if (volume.entries.length === 0) return { kind: "empty" };
    const who = usedBy
        ? `legacy db ${usedBy.name} uses (PGDATA=${usedBy.location.pgdata}, the volume mounted at ${trimSlashes(usedBy.location.mount.destination)})`
        : `cartie:pgdataSubdir names (${subdir === "" ? "the root" : subdir})`;
    const shown = volume.entries.slice(0, 8).join(", ") + (volume.entries.length > 8 ? `, … (${volume.entries.length} in all)` : "");
    const elsewhere = Object.keys(volume.pgVersions).filter((k) => k !== subdir);
    const hint =
        !usedBy && elsewhere.length > 0
            ? `A data directory is at ${where(elsewhere[0])} of the volume: run ${pgdataSubdirFix(elsewhere[0])}`
            : `Check cartie:dataVolume (the volume the legacy db keeps its data directory in: \`npm run takeover:plan -- <project>\` names it) and the legacy db's PGDATA`;
    return {
        kind: "not-a-data-directory",
        reason:
            `data volume ${volumeName}'s root is neither a Postgres data directory nor the parent of the one ${who}: there is no PG_VERSION at ${where(subdir)}, and it holds ${shown}. ` +
            `The platform's db would refuse to initialise a folder that is not empty and stay down after the legacy db is gone. ${hint}`,
    };
}

/** The refusal for a legacy data directory in a host folder, with the steps that move it into a volume the platform can adopt. */
export function bindMountRefusal(c: ContainerFacts, location: DataLocation, project: string): string {
    const volume = `${project}_db-data`;
    const dest = trimSlashes(location.mount.destination);
    return (
        `legacy container ${c.name} keeps its Postgres data in a ${location.mount.type} mount (host folder ${location.mount.source} at ${dest}), not a Docker volume: ` +
        `the platform adopts only a volume, and a host folder is never taken over. Move it into a volume first (nothing is deleted; the db is down during the copy): ` +
        `1. \`docker stop -t 60 ${c.name}\`; ` +
        `2. \`docker volume create ${volume}\`; ` +
        `3. \`docker run --rm --network none --entrypoint cp -v ${location.mount.source}:/from:ro -v ${volume}:/to ${c.image} -a /from/. /to/\` (keeps owners and modes); ` +
        `4. in the compose file replace \`${location.mount.source}:${dest}\` by \`db-data:${dest}\` with \`volumes: {db-data: {external: true, name: ${volume}}}\`, then \`docker compose up -d\`; ` +
        `5. \`npm run takeover:plan -- ${project}\` and set what it prints. Keep ${location.mount.source} until the platform runs on the volume (docs/takeover.md)`
    );
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
    return `${p.hostIp.includes(":") ? `[${p.hostIp}]` : p.hostIp || "0.0.0.0"}:${p.hostPort}->${p.containerPort}`;
}

/** Apps before the db; within each, web before api before the rest (the public side goes first). */
function orderKey(a: ContainerAction): string {
    const svc = a.name.toLowerCase();
    const rank = a.role === "db" ? 9 : /web|proxy|caddy|nginx/.test(svc) ? 0 : /api/.test(svc) ? 1 : 2;
    return `${rank}:${a.name}`;
}

export function planTakeover(facts: HostFacts): TakeoverPlan {
    const { project, dataVolume, publicPort, postgresImage, pgdataSubdir, dbUser, dbName } = facts.inputs;
    const problems: string[] = [];
    const notes: string[] = [];

    // The legacy Postgres on the configured data volume, if one is left.
    const onVolume = facts.legacy.filter((c) => mountsVolume(c, dataVolume));
    const liveOnVolume = onVolume.filter((c) => c.live);
    const db = liveOnVolume[0] ?? onVolume[0];
    const dbLocation = db ? dataLocation(db) : undefined;
    const dbDataOnVolume = dbLocation !== undefined && dbLocation.mount.type === "volume" && dbLocation.mount.name === dataVolume;

    // 1. The data directory, where the legacy db keeps it (or cartie:pgdataSubdir with none left), and its major version.
    const subdir = db && dbDataOnVolume ? dbLocation.subdir : pgdataSubdir;
    if (db && dbDataOnVolume && dbLocation.subdir !== pgdataSubdir) {
        problems.push(
            `legacy db ${db.name} keeps its data directory in ${where(dbLocation.subdir)} of volume ${dataVolume} (PGDATA=${dbLocation.pgdata}), ` +
                `but cartie:pgdataSubdir is ${pgdataSubdir === "" ? "unset (the root)" : `"${pgdataSubdir}"`}: the platform's db would look for it elsewhere. Run ${pgdataSubdirFix(dbLocation.subdir)}`,
        );
    }
    const finding = findDataDirectory(dataVolume, facts.volume, subdir, db && dbDataOnVolume ? { name: db.name, location: dbLocation } : undefined);
    if (finding.kind === "absent") {
        notes.push(`data volume ${dataVolume} does not exist yet: the platform creates it (an empty database)`);
    } else if (finding.kind === "empty") {
        notes.push(`data volume ${dataVolume} is empty (no data directory yet): the platform's db initialises it`);
    } else if (finding.kind === "not-a-data-directory") {
        problems.push(finding.reason);
    } else {
        const dataMajor = parseDataMajor(finding.pgVersion);
        const at = finding.subdir === "" ? "" : ` in ${finding.subdir}/`;
        if (dataMajor === undefined) {
            problems.push(`data volume ${dataVolume} has an unreadable PG_VERSION${at} ("${finding.pgVersion}"): it is not a Postgres data directory the platform can open; check cartie:dataVolume`);
        } else if (dataMajor !== facts.imageMajor) {
            problems.push(
                `data volume ${dataVolume} was written by PostgreSQL ${dataMajor} (its PG_VERSION${at}), but cartie:postgresImage ${postgresImage} is PostgreSQL ${facts.imageMajor}: ` +
                    `a data directory can't be opened by another major version. Run \`pulumi config set cartie:postgresImage ${matchingImage(postgresImage, dataMajor)}\` ` +
                    `(a PostgreSQL ${dataMajor} image); upgrade later with a dump and restore, never by swapping the image`,
            );
        } else {
            notes.push(`data volume ${dataVolume}: PostgreSQL ${dataMajor} data directory${at}, matches ${postgresImage} (PostgreSQL ${facts.imageMajor})`);
        }
    }

    if (facts.legacy.length === 0) {
        notes.push(`nothing legacy left: no container of compose project ${project}; nothing to back up or take over`);
        return { project, dataVolume, nothingLegacy: true, problems, notes, actions: [] };
    }

    // 2. The legacy Postgres: it must be the one on the configured data volume, its data in that volume.
    for (const c of facts.legacy) {
        const location = dataLocation(c);
        if (!location) continue;
        if (location.mount.type !== "volume") {
            problems.push(bindMountRefusal(c, location, project));
        } else if (location.mount.name !== dataVolume) {
            problems.push(
                `legacy container ${c.name} keeps its Postgres data in volume ${location.mount.name ?? location.mount.source}, but cartie:dataVolume is ${dataVolume}: ` +
                    `the platform would start an empty database next to the real one. Run \`pulumi config set cartie:dataVolume ${location.mount.name ?? location.mount.source}\``,
            );
        }
    }
    if (liveOnVolume.length > 1) {
        problems.push(`${liveOnVolume.map((c) => c.name).join(" and ")} all run on volume ${dataVolume}: two servers on one data directory; stop all but one by hand and check the data before a takeover`);
    }

    // 3. The user and database: the platform connects as cartie:dbUser to cartie:dbName, so they must be what the data holds.
    let credentials: TakeoverPlan["credentials"];
    if (db) {
        credentials = legacyCredentials(db.env);
        if (credentials.user !== dbUser || credentials.db !== dbName) {
            const fixes = [
                ...(credentials.user !== dbUser ? [`\`pulumi config set cartie:dbUser ${credentials.user}\``] : []),
                ...(credentials.db !== dbName ? [`\`pulumi config set cartie:dbName ${credentials.db}\``] : []),
            ];
            problems.push(
                `legacy database ${db.name} has user "${credentials.user}" and database "${credentials.db}" (POSTGRES_USER/POSTGRES_DB), ` +
                    `but the platform is configured to connect as user "${dbUser}" to database "${dbName}" (cartie:dbUser, cartie:dbName): it would find no data (or an empty database) there. ` +
                    `Run ${fixes.join(" and ")} so the platform uses what the data holds`,
            );
        } else {
            notes.push(`legacy database ${db.name}: user "${credentials.user}", database "${credentials.db}" (cartie:dbUser, cartie:dbName)`);
            if (facts.passwordAccepted === false) {
                problems.push(
                    `the legacy database ${db.name} refuses cartie:postgresPassword for user "${dbUser}": the platform's db starts on the existing data directory, where POSTGRES_PASSWORD is not applied again. ` +
                        `Set cartie:postgresPassword to the legacy password (POSTGRES_PASSWORD of ${db.name}) with \`npm run takeover:plan -- ${project} --store-password\`, or \`pulumi config set --secret cartie:postgresPassword\` (prompted)`,
                );
            } else if (facts.passwordAccepted === true) {
                notes.push(`legacy database ${db.name} accepts cartie:postgresPassword for user "${dbUser}"`);
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
