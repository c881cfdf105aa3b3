/**
 * Pure part of `npm run takeover:plan`: from what the legacy compose project looks like, the exact
 * stack settings that take it over (or why it can't be taken over as it is).
 */
import { DEFAULTS, imageRefProblem } from "../config";
import { DEFAULT_DB_IDENTITY } from "../env";
import { DataLocation, bindMountRefusal, dataLocation, findDataDirectory, legacyCredentials, matchingImage, parseDataMajor } from "./plan";
import { ContainerFacts, TakeoverInputs, VolumeProbe } from "./types";

export interface ConfigSetting {
    key: "legacyComposeProject" | "dataVolume" | "postgresImage" | "pgdataSubdir" | "dbUser" | "dbName";
    value: string;
    /** Why this value, for the comment above the lines. */
    why: string;
}

/** The legacy Postgres of a project: the container whose PGDATA is in a mount; a running one first. */
export function pickLegacyDb(legacy: ContainerFacts[]): { db?: ContainerFacts; problem?: string } {
    const candidates = legacy.filter((c) => dataLocation(c) !== undefined);
    if (candidates.length === 0) {
        return { problem: `no container of the project keeps Postgres data in a mount (none mounts a volume or folder at its PGDATA or above it): there is no database to take over` };
    }
    const live = candidates.filter((c) => c.live);
    if (live.length > 1) return { problem: `${live.map((c) => c.name).join(" and ")} all run with a Postgres data mount: take over one database at a time (stop the others by hand first)` };
    return { db: live[0] ?? candidates.find((c) => c.service === "db") ?? candidates[0] };
}

/** The major in an image tag (`postgres:15.10-bookworm` → `15`, `postgres:9.6` → `9.6`), when the tag starts with one. */
export function tagMajor(image: string): string | undefined {
    const tag = /:([^/@]+)(?:@|$)/.exec(image)?.[1];
    const m = tag ? /^(\d+)(?:\.(\d+))?/.exec(tag) : null;
    if (!m) return undefined;
    return Number(m[1]) >= 10 ? m[1] : `${m[1]}.${m[2] ?? "0"}`;
}

/**
 * The image the platform's db should run: the legacy db's own when it is pinned and of the data's
 * major (the very binaries and collation library that wrote the data, already on the host),
 * otherwise the default image when its major matches, otherwise that repository at the data's major.
 */
export function chooseImage(legacyImage: string, legacyImageMajor: string | undefined, dataMajor: string): { image: string; why: string } {
    if (imageRefProblem(legacyImage) === undefined && legacyImageMajor === dataMajor) {
        return { image: legacyImage, why: `the image the legacy db runs (PostgreSQL ${dataMajor}): the same binaries and collation library that wrote the data` };
    }
    if (tagMajor(DEFAULTS.postgresImage) === dataMajor) return { image: DEFAULTS.postgresImage, why: `the default image, PostgreSQL ${dataMajor} like the data` };
    return { image: matchingImage(DEFAULTS.postgresImage, dataMajor), why: `PostgreSQL ${dataMajor}, the data's major version (${legacyImage} is ${legacyImageMajor ? `PostgreSQL ${legacyImageMajor}` : "not pinned"})` };
}

export interface Proposal {
    db?: ContainerFacts;
    location?: DataLocation;
    settings: ConfigSetting[];
    /** Why the project can't be taken over as it is; each names the fix. */
    problems: string[];
}

/** Everything read from the host except the data volume's contents: who the db is and where its data is. */
export function locateLegacyData(legacy: ContainerFacts[], project: string): { db?: ContainerFacts; location?: DataLocation; problems: string[] } {
    const picked = pickLegacyDb(legacy);
    if (!picked.db) return { problems: [picked.problem ?? "no legacy db"] };
    const location = dataLocation(picked.db);
    if (!location) return { db: picked.db, problems: ["no data mount"] };
    if (location.mount.type !== "volume" || !location.mount.name) return { db: picked.db, location, problems: [bindMountRefusal(picked.db, location, project)] };
    return { db: picked.db, location, problems: [] };
}

export function proposeConfig(args: {
    project: string;
    db: ContainerFacts;
    location: DataLocation;
    probe: VolumeProbe;
    /** Major version of `postgres --version` in the legacy db's image; undefined when it could not be read. */
    legacyImageMajor?: string;
}): Proposal {
    const { project, db, location, probe } = args;
    const volume = location.mount.name ?? location.mount.source;
    const settings: ConfigSetting[] = [
        { key: "legacyComposeProject", value: project, why: "the compose project whose containers are taken over" },
        { key: "dataVolume", value: volume, why: `the volume ${db.name} keeps its data in (mounted at ${location.mount.destination})` },
    ];
    const finding = findDataDirectory(volume, { exists: true, ...probe }, location.subdir, { name: db.name, location });
    if (finding.kind === "not-a-data-directory") return { db, location, settings, problems: [finding.reason] };
    if (finding.kind !== "found") return { db, location, settings, problems: [`volume ${volume} holds no data directory (no PG_VERSION where ${db.name} keeps it, PGDATA=${location.pgdata}): there is no database to adopt`] };
    const dataMajor = parseDataMajor(finding.pgVersion);
    if (dataMajor === undefined) return { db, location, settings, problems: [`the PG_VERSION of ${volume} ("${finding.pgVersion}") is not a Postgres version: not a data directory the platform can open`] };
    const image = chooseImage(db.image, args.legacyImageMajor, dataMajor);
    settings.push({ key: "postgresImage", value: image.image, why: image.why });
    if (location.subdir !== "") settings.push({ key: "pgdataSubdir", value: location.subdir, why: `the data directory is in ${location.subdir}/ of the volume (PGDATA=${location.pgdata})` });
    const who = legacyCredentials(db.env);
    if (who.user !== DEFAULT_DB_IDENTITY.user) settings.push({ key: "dbUser", value: who.user, why: `the role the data holds (POSTGRES_USER of ${db.name})` });
    if (who.db !== DEFAULT_DB_IDENTITY.name) settings.push({ key: "dbName", value: who.db, why: `the database the data holds (POSTGRES_DB of ${db.name})` });
    return { db, location, settings, problems: [] };
}

/** The stack settings as the takeover steps would be given them. */
export function proposedInputs(settings: ConfigSetting[], publicPort: number): TakeoverInputs {
    const get = (k: ConfigSetting["key"]): string | undefined => settings.find((s) => s.key === k)?.value;
    return {
        project: get("legacyComposeProject") ?? "",
        dataVolume: get("dataVolume") ?? "",
        postgresImage: get("postgresImage") ?? DEFAULTS.postgresImage,
        publicPort,
        pgdataSubdir: get("pgdataSubdir") ?? "",
        dbUser: get("dbUser") ?? DEFAULT_DB_IDENTITY.user,
        dbName: get("dbName") ?? DEFAULT_DB_IDENTITY.name,
    };
}

/** A value as one shell word. */
export function shellWord(value: string): string {
    return /^[A-Za-z0-9_@%+=:,./-]+$/.test(value) ? value : `'${value.replace(/'/g, `'\\''`)}'`;
}

/** The exact commands, one per setting. */
export function configSetLines(settings: ConfigSetting[], stack?: string): string[] {
    const stackFlag = stack ? ` --stack ${shellWord(stack)}` : "";
    return settings.map((s) => `pulumi config set${stackFlag} cartie:${s.key} ${shellWord(s.value)}`);
}
