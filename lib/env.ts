import { PlatformConfig } from "./config";

/** Fixed names inside the platform network; containers find each other by these aliases. */
export const ALIASES = { db: "db", api: "api", web: "web", proxy: "proxy" } as const;
export const DB_USER = "cartie";
export const DB_NAME = "cartie";
export const DB_PORT = 5432;
export const API_PORT = 3000;
export const WEB_PORT = 8080;
export const PROXY_PORT = 80;
export const HEALTH_PATH = "/api/health";
export const POSTGRES_DATA_DIR = "/var/lib/postgresql/data";

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

/**
 * Everything the api needs to start; the api refuses to start without the first four.
 * JWT_SECRET_PREVIOUS only while a rotation keeps the previous secret's tokens valid: unset, the
 * variable is absent rather than empty, so removing it is a change of the api's environment.
 */
export function apiEnvironment(cfg: PlatformConfig): Record<string, string> {
    return {
        DATABASE_URL: databaseUrl(cfg.secrets.postgresPassword, ALIASES.db, DB_PORT, dbIdentity(cfg)),
        JWT_SECRET: cfg.secrets.jwtSecret,
        ...(cfg.secrets.jwtSecretPrevious ? { JWT_SECRET_PREVIOUS: cfg.secrets.jwtSecretPrevious } : {}),
        SEED_SUPERADMIN_PASSWORD: cfg.secrets.seedSuperadminPassword,
        SEED_SUPERADMIN_EMAIL: cfg.seedSuperadminEmail,
        NODE_ENV: "production",
        PORT: String(API_PORT),
    };
}

/** Docker's `KEY=value` list, sorted so the same environment is always the same input. */
export function toEnvList(env: Record<string, string>): string[] {
    return Object.keys(env)
        .sort()
        .map((k) => `${k}=${env[k]}`);
}

export const MASK = "***";

/**
 * Replaces every known secret (as written and percent-encoded) and any password inside a URL
 * with `***`, so command output can be shown and stored.
 */
export function maskSecrets(text: string, secrets: string[]): string {
    let out = text;
    const forms = new Set<string>();
    for (const s of secrets) {
        if (s.length < 4) continue;
        forms.add(s);
        forms.add(encodeURIComponent(s));
    }
    for (const form of [...forms].sort((a, b) => b.length - a.length)) out = out.split(form).join(MASK);
    return out.replace(/\b([a-z][a-z0-9+.-]*:\/\/[^:/?#\s@]+):[^@\s/]+@/gi, `$1:${MASK}@`);
}

/** Whether an environment variable name looks like it carries a secret. */
export function looksSecretName(name: string): boolean {
    return /(PASSWORD|PASSWD|SECRET|TOKEN|KEY|CREDENTIAL|PRIVATE)/i.test(name);
}
