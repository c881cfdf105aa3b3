/** The api container's environment, assembled from the stack's config. */
import { PlatformConfig } from "../config";
import { ALIASES, API_PORT, DB_PORT } from "./names";
import { databaseUrl, dbIdentity } from "./database";

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
