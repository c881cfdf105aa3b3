/** The platform's database as the other containers see it: its identity, its URL, where it keeps its data, its environment. */
import { PlatformConfig } from "../config";
import { ALIASES, DB_NAME, DB_PORT, DB_USER, POSTGRES_DATA_DIR } from "./names";

/** The role and database the platform connects as (`cartie:dbUser`, `cartie:dbName`). */
export interface DbIdentity {
    user: string;
    name: string;
}

export const DEFAULT_DB_IDENTITY: DbIdentity = { user: DB_USER, name: DB_NAME };

export function dbIdentity(cfg: Pick<PlatformConfig, "dbUser" | "dbName">): DbIdentity {
    return { user: cfg.dbUser, name: cfg.dbName };
}

/** Postgres connection URL with the password percent-encoded, so any character is safe in it. */
export function databaseUrl(password: string, host: string = ALIASES.db, port: number = DB_PORT, who: DbIdentity = DEFAULT_DB_IDENTITY): string {
    return `postgresql://${who.user}:${encodeURIComponent(password)}@${host}:${port}/${who.name}?schema=public`;
}

/**
 * Where the db container keeps its data: the volume is always mounted at the image's data
 * directory, and PGDATA points below it when the adopted volume holds the data directory in a
 * folder (`pgdata`), as its legacy db had it. With the data at the volume's root PGDATA is left
 * to the image, so existing stacks see no change.
 */
export interface DbDataLayout {
    mountTarget: string;
    /** Set only when the data directory is below the mount point. */
    pgdata?: string;
}

export function dbDataLayout(pgdataSubdir: string): DbDataLayout {
    const sub = pgdataSubdir.replace(/^\/+|\/+$/g, "");
    return sub === "" ? { mountTarget: POSTGRES_DATA_DIR } : { mountTarget: POSTGRES_DATA_DIR, pgdata: `${POSTGRES_DATA_DIR}/${sub}` };
}

/**
 * The db container's environment. No password: Postgres reads one only when it initialises an
 * empty volume, and then from the file the db-password step writes (POSTGRES_PASSWORD_FILE), so a
 * password change never replaces the db container.
 */
export function dbEnvironment(cfg: Pick<PlatformConfig, "dbUser" | "dbName" | "pgdataSubdir">): Record<string, string> {
    const layout = dbDataLayout(cfg.pgdataSubdir);
    return {
        POSTGRES_USER: cfg.dbUser,
        POSTGRES_DB: cfg.dbName,
        ...(layout.pgdata ? { PGDATA: layout.pgdata } : {}),
    };
}
