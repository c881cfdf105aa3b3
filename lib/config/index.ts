import * as fs from "node:fs";
import * as path from "node:path";
import { z } from "zod";
import { BACKUP_DEFAULTS, BackupSettings, parseSwitch, retentionProblem } from "../backup/settings";
import { TlsSettings, derivedPublicUrl, parseTls, tlsUrlProblems } from "./tls";
import { ConfigProblem } from "./problem";

export type { ConfigProblem } from "./problem";

export type { TlsMode, TlsSettings } from "./tls";

/**
 * The config contract of the `cartie` namespace, as plain data. Everything here is pure: the
 * Pulumi shell (`lib/config/stack.ts`) feeds it stack config, the environment and `.env`.
 */

export const CONFIG_NAMESPACE = "cartie";

export interface SecretValues {
    postgresPassword: string;
    jwtSecret: string;
    /** The jwtSecret before the last rotation: the api still accepts tokens it signed. Unset: none. */
    jwtSecretPrevious?: string;
    seedSuperadminPassword: string;
}

export interface PlatformConfig {
    /** Path of the Cartie monorepo as configured (relative to the project), used in resource inputs. */
    appRoot: string;
    /** Absolute path of the monorepo, for reading files. Never a resource input: it differs per machine. */
    appRootAbs: string;
    publicPort: number;
    publicBind: string;
    publicUrl: string;
    apiBaseUrl: string;
    postgresImage: string;
    caddyImage: string;
    /** Base images handed to the app Dockerfiles as build args; unset means the Dockerfiles' own defaults. */
    nodeImage?: string;
    webRuntimeImage?: string;
    migrationBaseline: string;
    seedSuperadminEmail: string;
    /** Compose project of a legacy host to take over (e.g. `infra2`); unset: none. */
    legacyComposeProject?: string;
    /** Name of the Docker volume holding Postgres's data. */
    dataVolume: string;
    /**
     * Folder of the data volume holding the data directory ("" for the volume's root): an adopted
     * volume keeps the layout its legacy db used (`PGDATA=/var/lib/postgresql/data/pgdata` → `pgdata`).
     */
    pgdataSubdir: string;
    /** The role and database the platform connects as; an adopted database keeps its own. */
    dbUser: string;
    dbName: string;
    /** Where backups go, how many pre-migration ones are kept, and whether a migration takes one first. */
    backup: BackupSettings;
    /** Prefix of every Docker object name (`cartie-dev`), so two stacks on one host never collide. */
    namePrefix: string;
    /** How long a release's new container may take to become healthy before the release is refused. */
    releaseHealthTimeout: number;
    /** Whether the proxy logs every request to its stdout. */
    accessLog: boolean;
    /** How the proxy serves its public side: HTTPS for `domains`, or plain HTTP (`lib/config/tls.ts`). */
    tls: TlsSettings;
    secrets: SecretValues;
}

export class ConfigError extends Error {
    constructor(readonly problems: ConfigProblem[]) {
        super(formatProblems(problems));
        this.name = "ConfigError";
    }
}

export function formatProblems(problems: ConfigProblem[]): string {
    const lines = problems.map((p) => `  - ${CONFIG_NAMESPACE}:${p.key}: ${p.problem}\n    fix: ${p.fix}`);
    return `Cartie config has ${problems.length} problem${problems.length === 1 ? "" : "s"}; nothing was changed:\n${lines.join("\n")}`;
}

interface FieldSpec {
    /** Name in the environment / `.env`, for the values that may come from there. */
    env?: string;
    secret?: boolean;
    required?: boolean;
    /** What to put in the fix line as an example value. */
    example: string;
}

export const FIELDS = {
    appRoot: { example: "examples/cartie" },
    publicPort: { example: "8082" },
    publicBind: { example: "127.0.0.1" },
    publicUrl: { example: "http://localhost:8082" },
    apiBaseUrl: { example: "http://localhost:8082/api" },
    postgresImage: { example: "postgres:15.10-bookworm" },
    caddyImage: { example: "caddy:2.8.4-alpine" },
    nodeImage: { example: "node:20.18.1-bookworm-slim" },
    webRuntimeImage: { example: "caddy:2.8.4-alpine" },
    migrationBaseline: { example: "v41_baseline" },
    legacyComposeProject: { example: "infra2" },
    dataVolume: { example: "infra2_db-data" },
    releaseHealthTimeout: { example: "120" },
    accessLog: { example: "true" },
    pgdataSubdir: { example: "pgdata" },
    dbUser: { example: "cartie" },
    dbName: { example: "cartie" },
    backupDir: { example: "backups" },
    backupRetention: { example: "10" },
    preMigrationBackup: { example: "true" },
    domain: { example: "cartie.example.org" },
    tls: { example: "acme" },
    acmeEmail: { example: "ops@example.org" },
    tlsTerminatedBy: { example: "hetzner-lb" },
    httpPort: { example: "80" },
    httpsPort: { example: "443" },
    seedSuperadminEmail: { env: "SEED_SUPERADMIN_EMAIL", required: true, example: "admin@example.org" },
    postgresPassword: { env: "POSTGRES_PASSWORD", secret: true, required: true, example: "<a long random value>" },
    jwtSecret: { env: "JWT_SECRET", secret: true, required: true, example: "<a long random value>" },
    jwtSecretPrevious: { env: "JWT_SECRET_PREVIOUS", secret: true, example: "<the jwtSecret you are replacing>" },
    seedSuperadminPassword: {
        env: "SEED_SUPERADMIN_PASSWORD",
        secret: true,
        required: true,
        example: "<a long random value>",
    },
} satisfies Record<string, FieldSpec>;

export type ConfigKey = keyof typeof FIELDS;
const fieldSpec = (key: ConfigKey): FieldSpec => FIELDS[key];

export const DEFAULTS = {
    appRoot: "examples/cartie",
    publicPort: 8082,
    publicBind: "127.0.0.1",
    postgresImage: "postgres:15.10-bookworm",
    caddyImage: "caddy:2.8.4-alpine",
    migrationBaseline: "v41_baseline",
    releaseHealthTimeout: 120,
    accessLog: false,
    dbUser: "cartie",
    dbName: "cartie",
} as const;

/** Minimum lengths: long enough that a guessable value is refused, short enough for generated ones. */
export const SECRET_MIN_LENGTH: Record<keyof SecretValues, number> = {
    postgresPassword: 12,
    jwtSecret: 32,
    jwtSecretPrevious: 32,
    seedSuperadminPassword: 12,
};

const PLACEHOLDERS = new Set([
    "changeme",
    "change-me",
    "change_me",
    "password",
    "passw0rd",
    "secret",
    "example",
    "todo",
    "tbd",
    "xxx",
    "placeholder",
    "replaceme",
    "replace-me",
    "default",
    "test",
    "admin",
    "postgres",
]);

/** True for values people leave in templates: `changeme`, `xxxx`, `<your password>`, `TODO: …`. */
export function isPlaceholder(value: string): boolean {
    const v = value.trim().toLowerCase();
    if (PLACEHOLDERS.has(v)) return true;
    if (/^(x+|\*+|\.+|0+|1234\d*)$/.test(v)) return true;
    if (/^<.*>$/.test(v) || /^\$\{.*\}$/.test(v)) return true;
    return /(changeme|change[-_ ]me|replace[-_ ]?me|^todo\b|your[-_ ]?(secret|password))/.test(v);
}

/** One raw value with where it came from, so fixes can point at the right place. */
export interface RawValue {
    value: string;
    source: "stack" | "env";
    /** For stack values: whether Pulumi holds it encrypted (`--secret`). */
    encrypted?: boolean;
}

export type RawConfig = Partial<Record<ConfigKey, RawValue>>;

export interface ValidateOptions {
    /** Directory the relative `appRoot` is resolved against (the Pulumi project directory). */
    projectDir: string;
    stack: string;
    project: string;
    /** Whether a `.env` file is in use: fixes then mention it. */
    envFile?: string;
}

function fixFor(key: ConfigKey, opts: ValidateOptions, detail?: string): string {
    const spec = fieldSpec(key);
    const setCmd = `pulumi config set ${spec.secret ? "--secret " : ""}${CONFIG_NAMESPACE}:${key} '${spec.example}'`;
    const envLine = spec.env ? ` or add the line ${spec.env}=${spec.example} to ${opts.envFile ?? ".env"}` : "";
    return `${detail ? `${detail}; ` : ""}run \`${setCmd}\`${envLine}`;
}

/** How to unset an optional value where it was set, for when "none" is what the user meant. */
function optionalRemoval(key: ConfigKey, rv: RawValue | undefined, opts: ValidateOptions): string {
    const env = fieldSpec(key).env;
    return rv?.source === "env" && env
        ? `to keep none, delete the line ${env}= from ${opts.envFile ?? ".env"} (or unset it)`
        : `to keep none, remove it with \`pulumi config rm ${CONFIG_NAMESPACE}:${key}\``;
}

const IMAGE_REF = /^(?:[a-z0-9.-]+(?::\d+)?\/)?[a-z0-9]+(?:[._-][a-z0-9]+)*(?:\/[a-z0-9]+(?:[._-][a-z0-9]+)*)*(?::[\w][\w.-]{0,127})?(?:@sha256:[a-f0-9]{64})?$/;

/** `why` an image reference is not pinned, or undefined when it is. */
export function imageRefProblem(ref: string): string | undefined {
    if (!IMAGE_REF.test(ref)) return `"${ref}" is not a valid image reference`;
    const withoutRegistryPort = ref.replace(/^[^/]+:\d+\//, "");
    const hasDigest = ref.includes("@sha256:");
    const tag = /:([\w][\w.-]*)(?:@|$)/.exec(withoutRegistryPort.split("/").pop() ?? "")?.[1];
    if (!tag && !hasDigest) return `"${ref}" has no tag; pin a version`;
    if (tag === "latest") return `"${ref}" uses the moving tag "latest"; pin a version`;
    return undefined;
}

/** A relative folder: segments start with a letter, digit or _, so no `.`, `..` or leading `/`. */
const SUBDIR = /^[A-Za-z0-9_][A-Za-z0-9_.-]*(\/[A-Za-z0-9_][A-Za-z0-9_.-]*)*$/;
/** Names that need no quoting in a URL, a shell word or SQL's `-U`/`-d`. */
const PG_IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_-]{0,62}$/;

const ipv4 = z.ipv4();
const ipv6 = z.ipv6();

/**
 * Validates the merged raw values and reports every problem at once. Secret values never appear
 * in a message: only their key, what is wrong with them and how to fix it.
 */
export function validateConfig(given: RawConfig, opts: ValidateOptions): PlatformConfig {
    // An optional secret left blank in .env (as .env.example has it) is unset; blank in stack config it is refused below.
    const raw: RawConfig = Object.fromEntries(
        Object.entries(given).filter(([key, rv]) => fieldSpec(key as ConfigKey).required || rv?.source !== "env" || rv.value.trim() !== ""),
    );
    const problems: ConfigProblem[] = [];
    const add = (key: ConfigKey, problem: string, detail?: string): void => {
        problems.push({ key, problem, fix: fixFor(key, opts, detail) });
    };
    const str = (key: ConfigKey): string | undefined => raw[key]?.value;

    // Required values, and optional secrets once set: present, non-empty, not a placeholder, long enough; stored encrypted.
    for (const key of Object.keys(FIELDS) as ConfigKey[]) {
        const spec = fieldSpec(key);
        const rv = raw[key];
        if (!spec.required && !(spec.secret && rv !== undefined)) continue;
        if (rv === undefined) {
            add(key, `missing (${spec.secret ? "a secret" : "a value"} is required${spec.env ? `; looked in stack config and ${spec.env}` : ""})`);
            continue;
        }
        if (rv.value.trim() === "") {
            add(key, `empty (from ${rv.source === "stack" ? "stack config" : spec.env})`, spec.required ? undefined : optionalRemoval(key, rv, opts));
            continue;
        }
        if (spec.secret && isPlaceholder(rv.value)) {
            add(key, "is a placeholder value, not a real secret", "choose a long random value (for example `openssl rand -base64 32`)");
            continue;
        }
        if (spec.secret) {
            const min = SECRET_MIN_LENGTH[key as keyof SecretValues];
            if (rv.value.length < min) {
                add(key, `too short for a secret (${rv.value.length} characters; at least ${min} are required)`, "choose a long random value (for example `openssl rand -base64 32`)");
                continue;
            }
            if (rv.source === "stack" && rv.encrypted === false) {
                add(key, "is stored in plaintext in the stack config file", `remove it with \`pulumi config rm ${CONFIG_NAMESPACE}:${key}\`, then set it encrypted`);
            }
        }
    }
    const jwtSecretPrevious = str("jwtSecretPrevious");
    if (jwtSecretPrevious !== undefined && jwtSecretPrevious.trim() !== "" && jwtSecretPrevious === str("jwtSecret")) {
        add("jwtSecretPrevious", "is the same as cartie:jwtSecret, so it keeps nothing valid that jwtSecret does not", `set it to the value jwtSecret had before the rotation, or ${optionalRemoval("jwtSecretPrevious", raw.jwtSecretPrevious, opts)}`);
    }
    const email = str("seedSuperadminEmail");
    if (email && email.trim() !== "" && !z.email().safeParse(email.trim()).success) {
        add("seedSuperadminEmail", `"${email}" is not an email address`);
    }

    // publicPort
    let publicPort: number = DEFAULTS.publicPort;
    const portRaw = str("publicPort");
    if (portRaw !== undefined) {
        const parsed = z.coerce.number().int().min(1).max(65535).safeParse(portRaw.trim() === "" ? NaN : portRaw);
        if (!parsed.success) add("publicPort", `"${portRaw}" is not a port number between 1 and 65535`);
        else publicPort = parsed.data;
    }

    const publicBind = str("publicBind")?.trim() ?? DEFAULTS.publicBind;
    if (!ipv4.safeParse(publicBind).success && !ipv6.safeParse(publicBind).success) {
        add("publicBind", `"${publicBind}" is not an IP address to bind to (use 127.0.0.1 for this host only, 0.0.0.0 for every interface)`);
    }

    const tls = parseTls((key) => str(key), publicBind, problems);

    const checkUrl = (key: ConfigKey, value: string): boolean => {
        const ok = z.url({ protocol: /^https?$/ }).safeParse(value).success;
        if (!ok) add(key, `"${value}" is not an http(s) URL`);
        return ok;
    };
    const publicUrl = (str("publicUrl")?.trim() ?? derivedPublicUrl(tls) ?? `http://localhost:${publicPort}`).replace(/\/+$/, "");
    const publicUrlOk = checkUrl("publicUrl", publicUrl);
    const apiBaseUrl = (str("apiBaseUrl")?.trim() ?? `${publicUrl}/api`).replace(/\/+$/, "");
    // A derived apiBaseUrl inherits publicUrl's problem: report it once, where it was made.
    if (str("apiBaseUrl") !== undefined || publicUrlOk) checkUrl("apiBaseUrl", apiBaseUrl);
    tlsUrlProblems(tls, { publicUrl, apiBaseUrl }, problems);

    const images: Partial<Record<ConfigKey, string>> = {};
    for (const key of ["postgresImage", "caddyImage", "nodeImage", "webRuntimeImage"] as const) {
        const value = str(key)?.trim() ?? (key in DEFAULTS ? DEFAULTS[key as keyof typeof DEFAULTS].toString() : undefined);
        if (value === undefined) continue;
        const why = imageRefProblem(value);
        if (why) add(key, why);
        images[key] = value;
    }

    // appRoot: the monorepo layout the images are built from.
    const appRoot = str("appRoot")?.trim() || DEFAULTS.appRoot;
    const appRootAbs = path.resolve(opts.projectDir, appRoot);
    const migrationBaseline = str("migrationBaseline")?.trim() || DEFAULTS.migrationBaseline;
    if (!isDirectory(appRootAbs)) {
        add("appRoot", `"${appRoot}" does not exist (resolved to ${appRootAbs})`, "point it at the Cartie monorepo that holds apps/api and apps/web");
    } else {
        const missing = ["apps/api/Dockerfile", "apps/web/Dockerfile"].filter((p) => !fs.existsSync(path.join(appRootAbs, p)));
        if (missing.length > 0) {
            add("appRoot", `"${appRoot}" is not a Cartie monorepo: ${missing.join(" and ")} not found`, "point it at the folder that holds apps/api and apps/web");
        } else {
            const migrationsDir = path.join(appRootAbs, "apps/api/prisma/migrations");
            if (!isDirectory(path.join(migrationsDir, migrationBaseline))) {
                const found = isDirectory(migrationsDir)
                    ? fs.readdirSync(migrationsDir).filter((d) => isDirectory(path.join(migrationsDir, d)))
                    : [];
                add("migrationBaseline", `migration "${migrationBaseline}" not found in ${appRoot}/apps/api/prisma/migrations (found: ${found.join(", ") || "none"})`);
            }
        }
    }

    const legacyComposeProject = str("legacyComposeProject")?.trim() || undefined;
    if (legacyComposeProject !== undefined && !/^[a-z0-9][a-z0-9_-]*$/.test(legacyComposeProject)) {
        add("legacyComposeProject", `"${legacyComposeProject}" is not a compose project name (lowercase letters, digits, - and _)`);
    }
    const namePrefix = `cartie-${opts.stack}`.toLowerCase().replace(/[^a-z0-9_.-]/g, "-");
    const dataVolume = str("dataVolume")?.trim() || `${namePrefix}-db-data`;
    if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/.test(dataVolume)) {
        add("dataVolume", `"${dataVolume}" is not a Docker volume name`);
    }

    let releaseHealthTimeout: number = DEFAULTS.releaseHealthTimeout;
    const timeoutRaw = str("releaseHealthTimeout");
    if (timeoutRaw !== undefined) {
        const parsed = z.coerce.number().int().min(5).max(3600).safeParse(timeoutRaw.trim() === "" ? NaN : timeoutRaw);
        if (!parsed.success) add("releaseHealthTimeout", `"${timeoutRaw}" is not a number of seconds between 5 and 3600`);
        else releaseHealthTimeout = parsed.data;
    }
    let accessLog: boolean = DEFAULTS.accessLog;
    const accessLogRaw = str("accessLog");
    if (accessLogRaw !== undefined) {
        const parsed = parseSwitch(accessLogRaw);
        if (parsed === undefined) add("accessLog", `"${accessLogRaw}" is neither true nor false`);
        else accessLog = parsed;
    }
    const pgdataSubdir = (str("pgdataSubdir") ?? "").trim().replace(/\/+$/, "");
    if (pgdataSubdir !== "" && !SUBDIR.test(pgdataSubdir)) {
        add("pgdataSubdir", `"${pgdataSubdir}" is not a folder inside the volume (a relative path like pgdata, without .. or a leading /)`);
    }
    const identity = (key: "dbUser" | "dbName"): string => {
        const value = str(key)?.trim() || DEFAULTS[key];
        if (!PG_IDENTIFIER.test(value)) add(key, `"${value}" is not a Postgres role or database name this platform can use (letters, digits, _ and -, at most 63, not starting with a digit or -)`);
        return value;
    };
    const dbUser = identity("dbUser");
    const dbName = identity("dbName");
    const backupDir = str("backupDir")?.trim() || BACKUP_DEFAULTS.dir;
    let backupRetention = BACKUP_DEFAULTS.retention;
    const retentionRaw = str("backupRetention");
    if (retentionRaw !== undefined) {
        const why = retentionProblem(retentionRaw);
        if (why) add("backupRetention", `${why} (how many pre-migration backups to keep)`);
        else backupRetention = Number(retentionRaw);
    }
    let preMigrationBackup = BACKUP_DEFAULTS.preMigration;
    const switchRaw = str("preMigrationBackup");
    if (switchRaw !== undefined) {
        const parsed = parseSwitch(switchRaw);
        if (parsed === undefined) add("preMigrationBackup", `"${switchRaw}" is neither true nor false`);
        else preMigrationBackup = parsed;
    }

    if (problems.length > 0) throw new ConfigError(problems);

    return {
        appRoot,
        appRootAbs,
        publicPort,
        publicBind,
        publicUrl,
        apiBaseUrl,
        postgresImage: images.postgresImage ?? DEFAULTS.postgresImage,
        caddyImage: images.caddyImage ?? DEFAULTS.caddyImage,
        nodeImage: images.nodeImage,
        webRuntimeImage: images.webRuntimeImage,
        migrationBaseline,
        seedSuperadminEmail: (str("seedSuperadminEmail") ?? "").trim(),
        legacyComposeProject,
        dataVolume,
        pgdataSubdir,
        dbUser,
        dbName,
        backup: { dir: backupDir, retention: backupRetention, preMigration: preMigrationBackup },
        namePrefix,
        releaseHealthTimeout,
        accessLog,
        tls,
        secrets: {
            postgresPassword: str("postgresPassword") ?? "",
            jwtSecret: str("jwtSecret") ?? "",
            ...(jwtSecretPrevious !== undefined ? { jwtSecretPrevious } : {}),
            seedSuperadminPassword: str("seedSuperadminPassword") ?? "",
        },
    };
}

function isDirectory(p: string): boolean {
    try {
        return fs.statSync(p).isDirectory();
    } catch {
        return false;
    }
}

/**
 * Merges stack config and the environment: stack config wins. `envValues` holds what the
 * environment (after `.env` was loaded) has for the contract's variable names.
 */
export function mergeSources(
    stack: Partial<Record<ConfigKey, { value: string; encrypted: boolean }>>,
    envValues: Record<string, string | undefined>,
): RawConfig {
    const merged: RawConfig = {};
    for (const key of Object.keys(FIELDS) as ConfigKey[]) {
        const fromStack = stack[key];
        if (fromStack !== undefined) {
            merged[key] = { value: fromStack.value, source: "stack", encrypted: fromStack.encrypted };
            continue;
        }
        const envName = fieldSpec(key).env;
        const fromEnv = envName ? envValues[envName] : undefined;
        if (fromEnv !== undefined) merged[key] = { value: fromEnv, source: "env" };
    }
    return merged;
}

/** The variable names of the contract that may come from the environment. */
export const ENV_NAMES: string[] = (Object.values(FIELDS) as FieldSpec[]).flatMap((f) => (f.env ? [f.env] : []));
