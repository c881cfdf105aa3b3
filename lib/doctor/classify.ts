/**
 * The doctor's pure part: facts about containers, the database and the source in; findings out,
 * each with its cause, the fix and what `pulumi up` does about it, most important first.
 * No I/O here, so every signature is unit-tested on recorded log lines.
 */
import { planMigrations } from "../migrationPlan";
import { CONFIG_NAMESPACE, FIELDS } from "../config";
import { ContainerFacts, DoctorInput, DoctorReport, Finding, FindingCode, MigrationSummary, Role, Severity } from "./types";

/** Importance: root causes before the symptoms they produce. */
export const RANK: Record<FindingCode, number> = {
    STALE_IMAGE: 10,
    MISSING_ENV: 20,
    CONFIG_INVALID: 25,
    BASELINE_NEEDED: 30,
    MIGRATION_FAILED: 31,
    UNKNOWN_MIGRATIONS: 32,
    TABLE_MISSING: 33,
    MIGRATIONS_PENDING: 34,
    DB_UNREACHABLE: 40,
    CONTAINER_MISSING: 45,
    CONTAINER_DOWN: 50,
    WEB_API_BASE_MISMATCH: 55,
    RESTART_LOOP: 60,
    UNHEALTHY: 70,
    PROXY_502: 80,
};

const SEVERITY_ORDER: Record<Severity, number> = { error: 0, warn: 1, info: 2 };

/** A restart count at or above this, or state `restarting`, is a restart loop. */
export const RESTART_LOOP_THRESHOLD = 3;

// Recorded signatures -------------------------------------------------------------------------

/** Prisma P2021: "The table `public.User` does not exist in the current database." */
const P2021 = /The table `([^`]+)` does not exist in the current database|\bP2021\b/;
/** Prisma P1001: "Can't reach database server at `db:5432`". */
const P1001 = /\bP1001\b|Can't reach database server/;
const P1001_ADDRESS = /Can't reach database server at `?([^`\s]+)/;
const P3009 = /\bP3009\b|migrate found failed migrations/i;
const P3005 = /\bP3005\b|The database schema is not empty/i;
/** The api's own line: `cartie-api: missing required environment variables: A, B`. */
const MISSING_ENV = /missing required environment variables?:\s*([A-Z0-9_]+(?:\s*,\s*[A-Z0-9_]+)*)/;
/** Caddy's upstream errors: `dial tcp: lookup api on 127.0.0.11:53: no such host`, `dial tcp 172.18.0.3:3000: connect: connection refused`. */
const DIAL_LOOKUP = /dial tcp: lookup ([A-Za-z0-9._-]+)(?: on [^:]+:\d+)?: no such host/;
const DIAL_REFUSED = /dial tcp ([0-9a-fA-F.:[\]]+?):(\d+): connect: connection refused/;
const STATUS_502 = /"status"\s*:\s*502\b|\b502 Bad Gateway\b/;

export interface LogSignature {
    code: "P2021" | "P1001" | "P3009" | "P3005" | "MISSING_ENV" | "UPSTREAM_NO_HOST" | "UPSTREAM_REFUSED" | "HTTP_502";
    line: string;
    /** Table, host:port, variable names or upstream, as the line names them. */
    detail: string[];
}

/** Every known signature in the given lines, last occurrence of each kind wins (the freshest). */
export function scanLogLines(lines: string[]): LogSignature[] {
    const found = new Map<LogSignature["code"], LogSignature>();
    for (const line of lines) {
        let m: RegExpExecArray | null;
        if ((m = P2021.exec(line))) found.set("P2021", { code: "P2021", line, detail: m[1] ? [m[1]] : [] });
        if (P1001.test(line)) {
            const addr = P1001_ADDRESS.exec(line)?.[1]?.replace(/[`.,]+$/, "");
            found.set("P1001", { code: "P1001", line, detail: addr ? [addr] : [] });
        }
        if (P3009.test(line)) found.set("P3009", { code: "P3009", line, detail: [] });
        if (P3005.test(line)) found.set("P3005", { code: "P3005", line, detail: [] });
        if ((m = MISSING_ENV.exec(line))) found.set("MISSING_ENV", { code: "MISSING_ENV", line, detail: m[1].split(/\s*,\s*/).filter(Boolean) });
        if ((m = DIAL_LOOKUP.exec(line))) found.set("UPSTREAM_NO_HOST", { code: "UPSTREAM_NO_HOST", line, detail: [m[1]] });
        if ((m = DIAL_REFUSED.exec(line))) found.set("UPSTREAM_REFUSED", { code: "UPSTREAM_REFUSED", line, detail: [`${m[1]}:${m[2]}`] });
        if (STATUS_502.test(line)) found.set("HTTP_502", { code: "HTTP_502", line, detail: [] });
    }
    return [...found.values()];
}

/** `public.User` → `User`. */
function bareTable(qualified: string): string {
    return qualified.split(".").pop() ?? qualified;
}

/** `SEED_SUPERADMIN_PASSWORD` → the config key that supplies it, for the fix line. */
export function configKeyForEnv(envName: string): { key: string; secret: boolean } | undefined {
    for (const [key, spec] of Object.entries(FIELDS) as [string, { env?: string; secret?: boolean }][]) {
        if (spec.env === envName) return { key, secret: spec.secret === true };
    }
    if (envName === "DATABASE_URL") return { key: "postgresPassword", secret: true };
    return undefined;
}

function short(line: string, max = 240): string {
    const t = line.trim();
    return t.length > max ? `${t.slice(0, max - 1)}…` : t;
}

/** The migration history against the migrations folder. */
export function summarizeMigrations(input: DoctorInput): MigrationSummary | undefined {
    const state = input.db?.state;
    if (!state) return undefined;
    const local = [...input.expected.migrations].sort();
    const applied = state.history.filter((m) => m.finished && !m.rolledBack).map((m) => m.name);
    const failed = state.history.filter((m) => !m.finished && !m.rolledBack).map((m) => m.name);
    const unknown = applied.filter((n) => !local.includes(n)).sort();
    const baselineNeeded = applied.length === 0 && state.appTables.length > 0;
    const pending = local.filter((n) => !applied.includes(n));
    return { applied, pending, failed, unknown, baselineNeeded, appTables: state.appTables };
}

export function classify(input: DoctorInput): Finding[] {
    const findings: Finding[] = [];
    const add = (f: Finding): void => {
        findings.push(f);
    };
    const byRole = (role: Role): ContainerFacts[] => input.containers.filter((c) => c.role === role);
    const schemaTables = new Set(input.expected.schemaTables.map((t) => t.toLowerCase()));
    const logSigs = new Map<string, LogSignature[]>(input.containers.map((c) => [c.id, scanLogLines(c.logLines)]));
    const sig = (c: ContainerFacts, code: LogSignature["code"]): LogSignature | undefined => logSigs.get(c.id)?.find((s) => s.code === code);

    // 1. Stale image: api and web against the content tag of the current source.
    for (const role of ["api", "web"] as const) {
        const expectedTag = role === "api" ? input.expected.apiTag : input.expected.webTag;
        for (const c of byRole(role)) {
            const p2021 = sig(c, "P2021");
            const missingTable = p2021?.detail[0] ? bareTable(p2021.detail[0]) : undefined;
            const tableNotInSource = missingTable !== undefined && schemaTables.size > 0 && !schemaTables.has(missingTable.toLowerCase());
            const evidence = tableNotInSource
                ? ` and its code expects table "${missingTable}", which the current schema does not have (${[...schemaTables].join(", ")}) (Prisma P2021)`
                : "";
            const pulumiUp = expectedTag
                ? `builds ${role} image :${expectedTag} from the current source and replaces ${c.name}`
                : `builds the ${role} image from the current source and replaces ${c.name}`;
            if (expectedTag && c.contentTag && c.contentTag !== expectedTag) {
                add({
                    code: "STALE_IMAGE",
                    severity: "error",
                    role,
                    container: c.name,
                    cause: `${c.name} runs image ${c.image} built from other source (content tag ${c.contentTag}, the current source gives ${expectedTag})${evidence}`,
                    fix: "rebuild the image from the current source (`pulumi up` does it; never reuse a host-built dist/ or node_modules/)",
                    pulumiUp,
                    evidence: p2021 ? short(p2021.line) : undefined,
                });
            } else if (!c.contentTag && (tableNotInSource || c.origin === "legacy")) {
                add({
                    code: "STALE_IMAGE",
                    severity: tableNotInSource ? "error" : "warn",
                    role,
                    container: c.name,
                    cause: `${c.name} runs image ${c.image}, which was not built from the current source by this program (no content tag${expectedTag ? `; the current source gives ${expectedTag}` : ""})${evidence}`,
                    fix: "rebuild the image from the current source with a .dockerignore that keeps host dist/ and node_modules/ out (`pulumi up` does it)",
                    pulumiUp,
                    evidence: p2021 ? short(p2021.line) : undefined,
                });
            } else if (tableNotInSource) {
                add({
                    code: "STALE_IMAGE",
                    severity: "error",
                    role,
                    container: c.name,
                    cause: `${c.name} expects table "${missingTable}", which the current schema does not have${expectedTag ? "" : " (the image's source could not be compared)"} (Prisma P2021)`,
                    fix: "rebuild the image from the current source (`pulumi up` does it)",
                    pulumiUp,
                    evidence: p2021 ? short(p2021.line) : undefined,
                });
            }
            if (p2021 && !tableNotInSource) {
                add({
                    code: "TABLE_MISSING",
                    severity: "error",
                    role,
                    container: c.name,
                    cause: `${c.name} expects table "${missingTable ?? "?"}", which the schema has but the database does not (Prisma P2021): migrations were not applied`,
                    fix: "apply the pending migrations (`pulumi up` runs `prisma migrate deploy` before the api starts)",
                    pulumiUp: "runs the migration step (baseline, then `prisma migrate deploy`) before replacing the api",
                    evidence: short(p2021.line),
                });
            }
        }
    }

    // 2. Missing secrets / required variables: the api's own line, or its environment.
    for (const c of byRole("api")) {
        const fromLog = sig(c, "MISSING_ENV")?.detail ?? [];
        const fromEnv = c.envNames.length > 0 || c.state === "running" || c.state === "restarting" ? input.expected.requiredApiEnv.filter((n) => !c.envNames.includes(n)) : [];
        const names = [...new Set([...fromLog, ...fromEnv])].sort();
        if (names.length === 0) continue;
        const keys = names.map((n) => configKeyForEnv(n)).filter((k): k is { key: string; secret: boolean } => k !== undefined);
        const sets = [...new Set(keys.map((k) => `pulumi config set ${k.secret ? "--secret " : ""}${CONFIG_NAMESPACE}:${k.key} …`))];
        add({
            code: "MISSING_ENV",
            severity: "error",
            role: "api",
            container: c.name,
            cause: `${c.name} is missing required environment variable${names.length === 1 ? "" : "s"} ${names.join(", ")}, so the api refuses to start`,
            fix: sets.length > 0 ? `set ${sets.map((s) => `\`${s}\``).join(" and ")} (or the same names in .env), then \`pulumi up\`` : `set ${names.join(", ")} for the api, then \`pulumi up\``,
            pulumiUp: "recreates the api with the whole environment from config (pulumi up refuses with nothing changed while a secret is missing)",
            evidence: fromLog.length > 0 ? short(sig(c, "MISSING_ENV")?.line ?? "") : `set in ${c.name}: ${c.envNames.filter((n) => /^[A-Z]/.test(n)).join(", ") || "nothing"}`,
        });
    }
    for (const p of input.configProblems) {
        add({
            code: "CONFIG_INVALID",
            severity: "warn",
            role: "other",
            cause: `${CONFIG_NAMESPACE}:${p.key} ${p.problem}; \`pulumi up\` refuses until it is fixed`,
            fix: p.fix,
            pulumiUp: "stops before changing anything and lists this problem",
        });
    }

    // 3. Migrations: the live history first, the api's Prisma errors when the db could not be read.
    const apiOrDb = (byRole("api")[0] ?? byRole("db")[0])?.name;
    const p3005Line = byRole("api").map((c) => sig(c, "P3005")).find((s) => s !== undefined);
    const p3009Line = byRole("api").map((c) => sig(c, "P3009")).find((s) => s !== undefined);
    if (input.db?.state) {
        const plan = planMigrations(input.db.state, input.expected.migrations, input.expected.baseline);
        const dbName = input.db.container;
        if (!plan.ok) {
            add({
                code: plan.code === "P3009" ? "MIGRATION_FAILED" : plan.code === "UNKNOWN_MIGRATIONS" ? "UNKNOWN_MIGRATIONS" : "BASELINE_NEEDED",
                severity: "error",
                role: "db",
                container: dbName,
                cause: plan.error,
                fix: plan.recovery,
                pulumiUp: "refuses at the migration step, before the api is replaced, with this same recovery",
                evidence: plan.code === "P3009" ? p3009Line?.line : undefined,
            });
        } else {
            for (const step of plan.steps) {
                if (step.kind === "resolve-applied") {
                    add({
                        code: "BASELINE_NEEDED",
                        severity: "error",
                        role: "db",
                        container: dbName,
                        cause: `pending baseline: ${step.why}; \`prisma migrate deploy\` alone fails with P3005`,
                        fix: `mark the baseline as applied: \`npx prisma migrate resolve --applied ${step.migration}\` (rows are kept), then deploy`,
                        pulumiUp: `runs \`prisma migrate resolve --applied ${step.migration}\`, then \`prisma migrate deploy\`, before replacing the api`,
                        evidence: p3005Line ? short(p3005Line.line) : undefined,
                    });
                } else {
                    add({
                        code: "MIGRATIONS_PENDING",
                        severity: "warn",
                        role: "db",
                        container: dbName,
                        cause: `${step.pending.length} migration(s) not applied yet: ${step.pending.join(", ")}`,
                        fix: "apply them with `prisma migrate deploy` from the current api image",
                        pulumiUp: "runs `prisma migrate deploy` before replacing the api",
                    });
                }
            }
        }
    } else {
        if (p3005Line) {
            add({
                code: "BASELINE_NEEDED",
                severity: "error",
                role: "db",
                container: apiOrDb,
                cause: `the database has tables but no migration history (Prisma P3005); the baseline "${input.expected.baseline}" must be marked applied`,
                fix: `\`npx prisma migrate resolve --applied ${input.expected.baseline}\`, then \`prisma migrate deploy\``,
                pulumiUp: `marks ${input.expected.baseline} applied and deploys the rest before replacing the api`,
                evidence: short(p3005Line.line),
            });
        }
        if (p3009Line) {
            add({
                code: "MIGRATION_FAILED",
                severity: "error",
                role: "db",
                container: apiOrDb,
                cause: "a migration failed earlier and is not resolved (Prisma P3009); no migration runs until it is",
                fix: "inspect the database, then `npx prisma migrate resolve --rolled-back <name>` or `--applied <name>`",
                pulumiUp: "refuses at the migration step with the failed migration's name",
                evidence: short(p3009Line.line),
            });
        }
    }

    // 4. Database reachability.
    const dbs = byRole("db");
    for (const c of byRole("api")) {
        const p1001 = sig(c, "P1001");
        if (!p1001) continue;
        const dbDown = dbs.length === 0 ? "there is no db container" : dbs.every((d) => d.state !== "running") ? `${dbs.map((d) => d.name).join(", ")} is ${dbs[0].state}` : "the db container runs, so check the network and DATABASE_URL's host";
        add({
            code: "DB_UNREACHABLE",
            severity: "error",
            role: "api",
            container: c.name,
            cause: `${c.name} cannot reach the database at ${p1001.detail[0] ?? "its DATABASE_URL"} (Prisma P1001): ${dbDown}`,
            fix: "start the db and put api and db on the same network; DATABASE_URL's host must be the db's alias (db)",
            pulumiUp: "creates the db on the platform network, waits for it to be healthy, then starts the api",
            evidence: short(p1001.line),
        });
    }

    // 5. Components missing or down.
    const roles: Role[] = ["db", "api", "web", "proxy"];
    for (const role of roles) {
        if (byRole(role).length > 0) continue;
        add({
            code: "CONTAINER_MISSING",
            severity: "error",
            role,
            cause: `no ${role} container for stack "${input.stack}"${input.legacyProject ? ` or compose project "${input.legacyProject}"` : ""}`,
            fix: "deploy the platform",
            pulumiUp: `creates the ${role} container`,
        });
    }
    for (const c of input.containers) {
        if (c.role === "other") continue;
        if (c.state !== "running" && c.state !== "restarting" && c.state !== "paused") {
            const last = c.logLines[c.logLines.length - 1];
            add({
                code: "CONTAINER_DOWN",
                severity: "error",
                role: c.role,
                container: c.name,
                cause: `${c.name} is ${c.state}${c.exitCode !== undefined ? ` (exit code ${c.exitCode})` : ""}`,
                fix: `read \`docker logs ${c.name}\`; fix the cause named above, then \`pulumi up\``,
                pulumiUp: `recreates ${c.name}`,
                evidence: last ? short(last) : undefined,
            });
        }
    }

    // 6. Web bundle built for another API base URL.
    const wb = input.webBundle;
    const expectedBase = input.expected.apiBaseUrl;
    if (wb && !wb.error && expectedBase && !wb.containsExpected) {
        const seen = wb.urls.filter((u) => /\/api\b/.test(u));
        const shown = (seen.length > 0 ? seen : wb.urls).slice(0, 3);
        add({
            code: "WEB_API_BASE_MISMATCH",
            severity: "error",
            role: "web",
            container: wb.container,
            cause: `the web bundle in ${wb.container} was built with VITE_API_BASE_URL=${shown.join(" or ") || "(none found)"}, but config says ${expectedBase}`,
            fix: `rebuild the web image with --build-arg VITE_API_BASE_URL=${expectedBase} (it is baked in at build time)`,
            pulumiUp: "rebuilds the web image (VITE_API_BASE_URL is a build arg, so it is part of the content tag) and replaces the web container",
        });
    }

    // 7. Symptoms: restart loop, unhealthy, proxy 502. They point at the cause found above.
    const causeFor = (c: ContainerFacts): Finding | undefined => findings.find((f) => f.container === c.name && f.severity === "error");
    for (const c of input.containers) {
        if (c.state === "restarting" || c.restartCount >= RESTART_LOOP_THRESHOLD) {
            const cause = causeFor(c);
            const last = c.logLines[c.logLines.length - 1];
            add({
                code: "RESTART_LOOP",
                severity: "error",
                role: c.role,
                container: c.name,
                cause: `${c.name} is in a restart loop (${c.restartCount} restarts${c.exitCode !== undefined ? `, last exit code ${c.exitCode}` : ""})${cause ? `: because of ${cause.code} above` : ""}`,
                fix: cause ? "fix the cause above; the loop stops by itself" : `read \`docker logs ${c.name}\`${last ? `; last line: ${short(last, 120)}` : ""}`,
                pulumiUp: `replaces ${c.name} and waits for it to be healthy (the update fails if it is not)`,
                evidence: last ? short(last) : undefined,
            });
        }
        if (c.health === "unhealthy") {
            const cause = causeFor(c);
            const probe = c.healthLog[c.healthLog.length - 1];
            add({
                code: "UNHEALTHY",
                severity: "error",
                role: c.role,
                container: c.name,
                cause: `${c.name} is unhealthy${cause ? ` because of ${cause.code} above` : ""}${probe ? `; last healthcheck: ${short(probe, 160)}` : ""}`,
                fix: cause ? "fix the cause above" : `run the healthcheck by hand (\`docker inspect ${c.name}\` shows it) and read \`docker logs ${c.name}\``,
                pulumiUp: `replaces ${c.name} only when its image or settings change, and waits for it to be healthy`,
                evidence: probe ? short(probe) : undefined,
            });
        }
    }
    for (const c of byRole("proxy")) {
        const probe = input.probes.find((p) => p.container === c.name && p.status === 502);
        const noHost = sig(c, "UPSTREAM_NO_HOST");
        const refused = sig(c, "UPSTREAM_REFUSED");
        const logged502 = sig(c, "HTTP_502");
        if (!probe && !noHost && !refused && !logged502) continue;
        const upstream = noHost?.detail[0] ?? refused?.detail[0];
        const upstreamRole: Role | undefined = upstream && /^(api|web|db)$/.test(upstream) ? (upstream as Role) : undefined;
        const upstreamDown = upstreamRole ? findings.find((f) => f.role === upstreamRole && f.severity === "error") : byRole("api").length === 0 || byRole("api").some((a) => a.state !== "running") ? findings.find((f) => f.role === "api" && f.severity === "error") : undefined;
        const why = noHost
            ? `its upstream "${noHost.detail[0]}" does not resolve (no such container on the proxy's network)`
            : refused
              ? `its upstream ${refused.detail[0]} refuses connections (the service is down or not listening)`
              : "its upstream does not answer";
        add({
            code: "PROXY_502",
            severity: "error",
            role: "proxy",
            container: c.name,
            cause: `${c.name} answers 502${probe ? ` on ${probe.url}` : ""}: ${why}${upstreamDown ? ` (see ${upstreamDown.code} above)` : ""}`,
            fix: upstreamDown ? "fix the upstream first; the proxy recovers by itself" : "start the upstream on the proxy's network under its alias (api, web)",
            pulumiUp: "starts api and web on the platform network with their aliases before the proxy, then verifies / and /api/health through it",
            evidence: short((noHost ?? refused ?? logged502)?.line ?? `${probe?.url ?? ""} → 502`),
        });
    }

    return sortFindings(dedupe(findings));
}

function dedupe(findings: Finding[]): Finding[] {
    const seen = new Set<string>();
    return findings.filter((f) => {
        const key = `${f.code}|${f.container ?? ""}|${f.cause}`;
        if (seen.has(key)) return false;
        seen.add(key);
        return true;
    });
}

/** Most important first: by rank (root causes before symptoms), then severity, then container name. */
export function sortFindings(findings: Finding[]): Finding[] {
    return [...findings].sort(
        (a, b) => RANK[a.code] - RANK[b.code] || SEVERITY_ORDER[a.severity] - SEVERITY_ORDER[b.severity] || (a.container ?? "").localeCompare(b.container ?? ""),
    );
}

/** The whole report: healthy only when there is no error. */
export function diagnose(input: DoctorInput): DoctorReport {
    const findings = classify(input);
    return {
        stack: input.stack,
        legacyProject: input.legacyProject,
        healthy: !findings.some((f) => f.severity === "error"),
        containers: input.containers,
        findings,
        migrations: summarizeMigrations(input),
        probes: input.probes,
        notes: [...input.notes, ...(input.db?.error ? [`database not inspected: ${input.db.error}`] : []), ...(input.webBundle?.error ? [`web bundle not inspected: ${input.webBundle.error}`] : [])],
    };
}
