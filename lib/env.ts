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

/** Postgres connection URL with the password percent-encoded, so any character is safe in it. */
export function databaseUrl(password: string, host: string = ALIASES.db, port: number = DB_PORT): string {
    return `postgresql://${DB_USER}:${encodeURIComponent(password)}@${host}:${port}/${DB_NAME}?schema=public`;
}

export function dbEnvironment(cfg: PlatformConfig): Record<string, string> {
    return { POSTGRES_USER: DB_USER, POSTGRES_DB: DB_NAME, POSTGRES_PASSWORD: cfg.secrets.postgresPassword };
}

/** Everything the api needs to start; the api refuses to start without the first four. */
export function apiEnvironment(cfg: PlatformConfig): Record<string, string> {
    return {
        DATABASE_URL: databaseUrl(cfg.secrets.postgresPassword),
        JWT_SECRET: cfg.secrets.jwtSecret,
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
