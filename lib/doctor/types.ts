import type { DoctorBackups } from "./backups";
import { ConfigProblem } from "../config";
import { DatabaseState } from "../migrationPlan";

/** What a container is in the platform, from its labels or its legacy compose service name. */
export type Role = "db" | "api" | "web" | "proxy" | "other";

/** Everything the doctor knows about one container: read-only facts, log lines already masked. */
export interface ContainerFacts {
    id: string;
    name: string;
    role: Role;
    /** `stack`: labelled by this program; `legacy`: a compose project such as `infra2`. */
    origin: "stack" | "legacy";
    image: string;
    /** Docker's state: running, restarting, exited, created, paused, dead. */
    state: string;
    health?: "healthy" | "unhealthy" | "starting" | "none";
    restartCount: number;
    exitCode?: number;
    /** Seconds since the container (last) started, when running. */
    uptimeSeconds?: number;
    /** Content tag of the source the image was built from: the label, or a `:<16 hex>` image tag. */
    contentTag?: string;
    /** Last log lines (stdout and stderr), secrets masked. */
    logLines: string[];
    /** Output of the last healthcheck runs, masked. */
    healthLog: string[];
    /** Names (never values) of the environment variables set to a non-empty value. */
    envNames: string[];
}

/** An HTTP probe of the proxy's published port (a GET, nothing else). */
export interface ProbeResult {
    container: string;
    url: string;
    status?: number;
    error?: string;
}

/** What the web bundle inside the web container was built with. */
export interface WebBundleFacts {
    container: string;
    /** `http(s)://…` strings found in the bundle's JavaScript. */
    urls: string[];
    /** Whether the configured apiBaseUrl occurs literally in the bundle. */
    containsExpected: boolean;
    error?: string;
}

/** What the current source and config say the host should run. */
export interface Expected {
    apiTag?: string;
    webTag?: string;
    apiBaseUrl?: string;
    baseline: string;
    /** Migration folder names in the source. */
    migrations: string[];
    /** Tables the current Prisma schema maps to (e.g. `users`, `sessions`). */
    schemaTables: string[];
    /** Names the api refuses to start without. */
    requiredApiEnv: string[];
}

export interface DbFacts {
    container: string;
    state?: DatabaseState;
    error?: string;
}

export interface DoctorInput {
    stack: string;
    legacyProject?: string;
    containers: ContainerFacts[];
    expected: Expected;
    db?: DbFacts;
    webBundle?: WebBundleFacts;
    probes: ProbeResult[];
    /** Problems of the local config contract (what `pulumi up` would refuse with). */
    configProblems: ConfigProblem[];
    /** Why parts of the check could not run (e.g. no source to compare against). */
    notes: string[];
}

export type Severity = "error" | "warn" | "info";

export type FindingCode =
    | "STALE_IMAGE"
    | "MISSING_ENV"
    | "CONFIG_INVALID"
    | "BASELINE_NEEDED"
    | "MIGRATION_FAILED"
    | "UNKNOWN_MIGRATIONS"
    | "TABLE_MISSING"
    | "MIGRATIONS_PENDING"
    | "DB_UNREACHABLE"
    | "CONTAINER_MISSING"
    | "CONTAINER_DOWN"
    | "WEB_API_BASE_MISMATCH"
    | "RESTART_LOOP"
    | "UNHEALTHY"
    | "PROXY_502";

export interface Finding {
    code: FindingCode;
    severity: Severity;
    role: Role;
    /** Container concerned, when there is one. */
    container?: string;
    /** What is wrong, one line. */
    cause: string;
    /** What a person does about it, one line. */
    fix: string;
    /** What `pulumi up` does about it, one line. */
    pulumiUp: string;
    /** The log line or fact that shows it (masked). */
    evidence?: string;
}

export interface MigrationSummary {
    applied: string[];
    pending: string[];
    failed: string[];
    unknown: string[];
    baselineNeeded: boolean;
    appTables: string[];
}

export interface DoctorReport {
    stack: string;
    legacyProject?: string;
    healthy: boolean;
    containers: ContainerFacts[];
    findings: Finding[];
    migrations?: MigrationSummary;
    probes: ProbeResult[];
    notes: string[];
    /** The backups folder and its newest complete backup (lib/doctor/backups.ts). */
    backups?: DoctorBackups;
}
