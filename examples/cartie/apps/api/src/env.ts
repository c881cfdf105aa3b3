// Required configuration. Checked once at start; names only are ever printed.
export const REQUIRED_ENV = [
  "DATABASE_URL",
  "JWT_SECRET",
  "SEED_SUPERADMIN_PASSWORD",
  "SEED_SUPERADMIN_EMAIL",
] as const;

export type RequiredEnvName = (typeof REQUIRED_ENV)[number];

export interface Config {
  databaseUrl: string;
  jwtSecret: string;
  /** The secret tokens were signed with before the last rotation: still accepted, never used to sign. */
  jwtSecretPrevious?: string;
  seedSuperadminEmail: string;
  seedSuperadminPassword: string;
  port: number;
  migrationsDir: string;
  /** Which build this is (the platform sets the image's content tag), so a client can tell old from new during a deploy. */
  release: string;
  /** Hard limit on draining after SIGTERM; must stay below the container's stop grace period (30 s), or Docker kills mid-drain. */
  shutdownTimeoutMs: number;
}

export const DEFAULT_RELEASE = "dev";
export const DEFAULT_SHUTDOWN_TIMEOUT_MS = 20_000;

export function missingEnv(env: NodeJS.ProcessEnv): RequiredEnvName[] {
  return REQUIRED_ENV.filter((name) => (env[name] ?? "").trim() === "");
}

/** The one stderr line printed when configuration is incomplete. */
export function missingEnvMessage(names: readonly string[]): string {
  return `cartie-api: missing required environment variables: ${names.join(", ")}`;
}

export function loadConfig(env: NodeJS.ProcessEnv, defaultMigrationsDir: string): Config {
  const port = Number(env.PORT ?? "") || 3000;
  return {
    databaseUrl: env.DATABASE_URL as string,
    jwtSecret: env.JWT_SECRET as string,
    jwtSecretPrevious: (env.JWT_SECRET_PREVIOUS ?? "") === "" ? undefined : env.JWT_SECRET_PREVIOUS,
    seedSuperadminEmail: (env.SEED_SUPERADMIN_EMAIL as string).trim().toLowerCase(),
    seedSuperadminPassword: env.SEED_SUPERADMIN_PASSWORD as string,
    port,
    migrationsDir: env.MIGRATIONS_DIR || defaultMigrationsDir,
    release: (env.CARTIE_RELEASE ?? "").trim() || DEFAULT_RELEASE,
    shutdownTimeoutMs: positiveInt(env.SHUTDOWN_TIMEOUT_MS) ?? DEFAULT_SHUTDOWN_TIMEOUT_MS,
  };
}

// A malformed value falls back to the default rather than failing the start: a typo here must not
// take the api down, and the default already fits the grace period.
function positiveInt(value: string | undefined): number | undefined {
  const n = Number((value ?? "").trim());
  return Number.isInteger(n) && n > 0 ? n : undefined;
}
