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
  seedSuperadminEmail: string;
  seedSuperadminPassword: string;
  port: number;
  migrationsDir: string;
}

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
    seedSuperadminEmail: (env.SEED_SUPERADMIN_EMAIL as string).trim().toLowerCase(),
    seedSuperadminPassword: env.SEED_SUPERADMIN_PASSWORD as string,
    port,
    migrationsDir: env.MIGRATIONS_DIR || defaultMigrationsDir,
  };
}
