import type { DriftReport } from "../drift/host";
import { ConfigProblem } from "../config";
import { DatabaseState } from "../migration/plan";

/** What a container is in the platform, from its labels or its legacy compose service name. */
/** `routes`: the routes responder the proxy asks which container serves each role (a stack deployed by this program only). */
export type Role = "db" | "api" | "web" | "proxy" | "routes" | "other";

/** Everything the doctor knows about one container: read-only facts, log lines already masked. */
export interface ContainerFacts {
    id: string;
    name: string;
    role: Role;
    /** `stack`: labelled by this program; `legacy`: a compose project such as `infra2`; `port`: not the platform, but publishing its port. */
    origin: "stack" | "legacy" | "port";
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

/** A compose project that looks like the platform, and why. */
export interface Candidate {
    project: string;
    containers: string[];
    /** e.g. `services db, api, web`, `a Postgres image (postgres:15)`, `a Prisma api (x-api-1)`. */
    signals: string[];
}

/** How the doctor chose what to look at. */
export interface DiscoveryFacts {
    /** Where the compose project came from: `--legacy`, `cartie:legacyComposeProject`, found on the host, or none. */
    legacySource: "flag" | "config" | "discovered" | "none";
    /** Compose projects that look like the platform. */
    candidates: Candidate[];
    /** Other stacks of this program with containers on the host. */
    otherStacks: string[];
    /** Containers on the host in total. */
    hostContainers: number;
    /** The platform's public port (cartie:publicPort). */
    port: number;
    /** Where the Docker daemon was reached (DOCKER_HOST or the default socket). */
    endpoint: string;
}

export interface DoctorInput {
    stack: string;
    legacyProject?: string;
    discovery?: DiscoveryFacts;
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
    | "DB_PASSWORD_MISMATCH"
    | "CONTAINER_MISSING"
    | "CONTAINER_DOWN"
    | "WEB_API_BASE_MISMATCH"
    | "RESTART_LOOP"
    | "UNHEALTHY"
    | "PROXY_502"
    | "PLATFORM_ABSENT"
    | "PORT_TAKEN"
    | "SUPERSEDED"
    | "CERT_NOT_ISSUED"
    | "CERT_EXPIRED"
    | "CERT_EXPIRING"
    | "SCHEMA_DRIFT"
    | "MODEL_DRIFT";

/** A symptom reported under its cause rather than as a finding of its own. */
export interface Consequence {
    code: "RESTART_LOOP" | "CONTAINER_DOWN" | "UNHEALTHY";
    container: string;
    /** One line, e.g. `infra2-api-1 restarts in a loop: 14 restarts, last exit code 1`. */
    text: string;
    restartCount?: number;
    exitCode?: number;
}

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
    /** When two readings of the evidence were possible: which one this is and why. */
    reading?: string;
    /** What this cause leads to (the restart loop, with its count). */
    consequences?: Consequence[];
    /** What it means for the api (SCHEMA_DRIFT, MODEL_DRIFT). */
    api?: string;
    /** SCHEMA_DRIFT: which difference, in lib/drift's terms (its stable code, e.g. DRIFT_COLUMN_EXTRA). */
    drift?: { code: string; kind: string; change: string; table?: string; name: string; liveName?: string; detail: string; restoreSql?: string };
}

export interface MigrationSummary {
    applied: string[];
    pending: string[];
    failed: string[];
    unknown: string[];
    baselineNeeded: boolean;
    appTables: string[];
}

/** Bumped whenever a field of the JSON output changes meaning or disappears. */
export const DOCTOR_SCHEMA_VERSION = 2;

export interface DoctorReport {
    schemaVersion: typeof DOCTOR_SCHEMA_VERSION;
    stack: string;
    legacyProject?: string;
    discovery?: DiscoveryFacts;
    /** Several compose projects look like the platform and none was named: the commands to choose one. */
    choose?: { project: string; command: string; signals: string[] }[];
    healthy: boolean;
    containers: ContainerFacts[];
    findings: Finding[];
    migrations?: MigrationSummary;
    probes: ProbeResult[];
    notes: string[];
    /** The backups folder and its newest complete backup (lib/doctor/backups.ts). */
    backups?: DoctorBackups;
    /** The TLS certificates of the stack's proxy, when its tls label is acme or internal (lib/doctor/certificates.ts). */
    certificates?: ProxyCertificates[];
    /** Both schema drift checks (lib/doctor/drift.ts): what was compared and whether each ran. */
    drift?: DoctorDrift;
}

// The report parts the readers fill in (backups.ts, certificates.ts, drift.ts): defined here, below
// them, so the readers and the report type do not import each other.

export interface BackupStatus {
    dir: string;
    newest?: { file: string; reason: string; takenAt: string; bytes: number; rows: number };
}

export interface DoctorBackups extends BackupStatus {
    /** Set when there is no complete backup. */
    warning?: string;
}

export type TlsMode = "acme" | "internal";

export interface CertificateFacts {
    /** Path inside the proxy, e.g. `/data/caddy/certificates/local/a.test/a.test.crt`. */
    path: string;
    /** The issuer's folder in Caddy's storage: `local` (tls internal), `acme-v02.api.letsencrypt.org-directory`… */
    issuerDir: string;
    /** DNS names and IP addresses of the subjectAltName. */
    names: string[];
    issuer: string;
    serial: string;
    notBefore: string;
    notAfter: string;
    /** Days until notAfter, one decimal (negative: expired). */
    daysLeft: number;
    /** The proxy's domains this certificate is valid for (X509Certificate.checkHost/checkIP). */
    covers: string[];
    error?: string;
}

/** What the doctor read from one proxy with TLS on. */
export interface ProxyCertificates {
    container: string;
    mode: TlsMode;
    /** The proxy's `domains` label. */
    domains: string[];
    certificates: CertificateFacts[];
    /** Why the certificates could not be read (the proxy is down, no shell tools…). */
    error?: string;
}

/** What the doctor tells about the two checks besides the findings. */
export interface DoctorDrift {
    live: { status: DriftReport["live"]["status"]; reason?: string; applied: string[]; pending: string[]; driftFixesPresent: string[] };
    model: { status: DriftReport["model"]["status"]; reason?: string };
}
