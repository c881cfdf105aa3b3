/**
 * The doctor's pure part: facts about containers, the database and the source in; findings out,
 * each with its cause, the fix and what `pulumi up` does about it, most important first.
 * No I/O here, so every signature is unit-tested on recorded log lines.
 */
import { planMigrations } from "../migration/plan";
import { CONFIG_NAMESPACE, FIELDS } from "../config";
import { chooseCommand } from "./discover";
import { LogSignature, SignatureCode, lastCrash, scanLogLines } from "./signatures";
import { Consequence, ContainerFacts, DOCTOR_SCHEMA_VERSION, DoctorInput, DoctorReport, Finding, FindingCode, MigrationSummary, Role, Severity } from "./types";

/** Importance: root causes before the symptoms they produce. */
export const RANK: Record<FindingCode, number> = {
    PLATFORM_ABSENT: 5,
    PORT_TAKEN: 6,
    STALE_IMAGE: 10,
    MODEL_DRIFT: 12,
    MISSING_ENV: 20,
    CONFIG_INVALID: 25,
    BASELINE_NEEDED: 30,
    MIGRATION_FAILED: 31,
    UNKNOWN_MIGRATIONS: 32,
    TABLE_MISSING: 33,
    MIGRATIONS_PENDING: 34,
    SCHEMA_DRIFT: 35,
    DB_UNREACHABLE: 40,
    DB_PASSWORD_MISMATCH: 41,
    CONTAINER_MISSING: 45,
    CONTAINER_DOWN: 50,
    WEB_API_BASE_MISMATCH: 55,
    RESTART_LOOP: 60,
    UNHEALTHY: 70,
    CERT_EXPIRED: 74,
    CERT_NOT_ISSUED: 76,
    PROXY_502: 80,
    CERT_EXPIRING: 85,
    SUPERSEDED: 90,
};

const SEVERITY_ORDER: Record<Severity, number> = { error: 0, warn: 1, info: 2 };

/** A restart count at or above this, or state `restarting`, is a restart loop. */
export const RESTART_LOOP_THRESHOLD = 3;

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
    /** The finding each container's log signature was read as: what a restart loop is the consequence of. */
    const readAs = new Map<string, Finding>();
    const add = (f: Finding, from?: ContainerFacts, signature?: SignatureCode): void => {
        findings.push(f);
        if (from && signature) readAs.set(`${from.id}|${signature}`, f);
    };
    const byRole = (role: Role): ContainerFacts[] => input.containers.filter((c) => c.role === role);
    const schemaTables = new Set(input.expected.schemaTables.map((t) => t.toLowerCase()));
    const logSigs = new Map<string, LogSignature[]>(input.containers.map((c) => [c.id, scanLogLines(c.logLines)]));
    const sig = (c: ContainerFacts, code: SignatureCode): LogSignature | undefined => logSigs.get(c.id)?.find((s) => s.code === code);
    const platform = input.containers.filter((c) => c.origin !== "port");

    // 1. Stale image or missing table. One Prisma P2021 is one finding: when its table is in the
    // current schema the database is behind, when it is not the code is; when the name could not
    // be read, the image's provenance decides, and the finding says so.
    const schemaList = [...schemaTables].join(", ");
    for (const role of ["api", "web"] as const) {
        const expectedTag = role === "api" ? input.expected.apiTag : input.expected.webTag;
        for (const c of byRole(role)) {
            const p2021 = sig(c, "P2021");
            const table = p2021?.detail[0] ? bareTable(p2021.detail[0]) : undefined;
            const tableKnownToSchema = table !== undefined && schemaTables.has(table.toLowerCase());
            const tagStale = expectedTag !== undefined && c.contentTag !== undefined && c.contentTag !== expectedTag;
            const tagCurrent = expectedTag !== undefined && c.contentTag === expectedTag;
            const provenance = c.contentTag
                ? tagStale
                    ? `built from other source (content tag ${c.contentTag}, the current source gives ${expectedTag})`
                    : `built from the current source (content tag ${c.contentTag})`
                : `not built from the current source by this program (no content tag${expectedTag ? `; the current source gives ${expectedTag}` : ""})`;
            const pulumiUp = expectedTag
                ? `builds ${role} image :${expectedTag} from the current source and replaces ${c.name}`
                : `builds the ${role} image from the current source and replaces ${c.name}`;
            const staleFix = "rebuild the image from the current source with a .dockerignore that keeps host dist/ and node_modules/ out (`pulumi up` does it)";
            const migrateFix = "apply the pending migrations (`pulumi up` runs `prisma migrate deploy` before the api starts)";
            const migrateUp = "runs the migration step (baseline, then `prisma migrate deploy`) before replacing the api";
            let p2021Code: FindingCode | undefined;
            if (p2021) {
                // One reading of the P2021, and why: the table's name against the schema, else the image's provenance.
                const unread = "(Prisma P2021; the table's name could not be read from the log)";
                const reading: { code: FindingCode; cause: string; reading?: string } =
                    table !== undefined && schemaTables.size > 0 && !tableKnownToSchema
                        ? { code: "STALE_IMAGE", cause: `${c.name} runs image ${c.image}, ${provenance}, and its code expects table "${table}", which the current schema does not have (${schemaList}) (Prisma P2021)` }
                        : table !== undefined
                          ? {
                                code: "TABLE_MISSING",
                                cause: `${c.name} expects table "${table}", which the schema has but the database does not (Prisma P2021): migrations were not applied`,
                                reading: schemaTables.size > 0 ? `the current schema maps "${table}", so the code is right and the database is behind` : undefined,
                            }
                          : tagCurrent
                            ? {
                                  code: "TABLE_MISSING",
                                  cause: `${c.name} expects a table the database does not have ${unread}: migrations were not applied`,
                                  reading: `the image is built from the current source (content tag ${c.contentTag}), so the database is behind, not the code`,
                              }
                            : {
                                  code: "STALE_IMAGE",
                                  cause: `${c.name} runs image ${c.image}, ${provenance}, and its code expects a table the database does not have ${unread}`,
                                  reading:
                                      "the name of the missing table could not be read, so the image that was not built from the current source is taken as the cause; `pulumi up` rebuilds it and runs the migrations before it starts, which covers a database that is behind as well",
                              };
                p2021Code = reading.code;
                const stale = reading.code === "STALE_IMAGE";
                add(
                    {
                        code: reading.code,
                        severity: "error",
                        role,
                        container: c.name,
                        cause: reading.cause,
                        fix: stale ? staleFix : migrateFix,
                        pulumiUp: stale ? pulumiUp : migrateUp,
                        evidence: short(p2021.line),
                        ...(reading.reading !== undefined ? { reading: reading.reading } : {}),
                    },
                    c,
                    "P2021",
                );
            }
            // The image's own provenance, when the P2021 above did not already name it as the cause.
            if (p2021Code === "STALE_IMAGE") continue;
            if (tagStale) {
                add({
                    code: "STALE_IMAGE",
                    severity: "error",
                    role,
                    container: c.name,
                    cause: `${c.name} runs image ${c.image} ${provenance}`,
                    fix: "rebuild the image from the current source (`pulumi up` does it; never reuse a host-built dist/ or node_modules/)",
                    pulumiUp,
                });
            } else if (!c.contentTag && c.origin === "legacy" && p2021Code === undefined) {
                add({
                    code: "STALE_IMAGE",
                    severity: "warn",
                    role,
                    container: c.name,
                    cause: `${c.name} runs image ${c.image}, which was ${provenance}`,
                    fix: staleFix,
                    pulumiUp,
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
        }, c, fromLog.length > 0 ? "MISSING_ENV" : undefined);
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
    const p3005Api = byRole("api").find((c) => sig(c, "P3005"));
    const p3009Api = byRole("api").find((c) => sig(c, "P3009"));
    const p3005Line = p3005Api && sig(p3005Api, "P3005");
    const p3009Line = p3009Api && sig(p3009Api, "P3009");
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
            }, p3009Api, plan.code === "P3009" ? "P3009" : undefined);
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
                    }, p3005Api, "P3005");
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
            }, p3005Api, "P3005");
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
            }, p3009Api, "P3009");
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
        }, c, "P1001");
    }

    // 4b. The database refuses the api's password (Postgres 28P01, Prisma P1000): config and role disagree.
    for (const c of byRole("api")) {
        const p1000 = sig(c, "P1000");
        if (!p1000) continue;
        const role = p1000.detail[0] ? `role "${p1000.detail[0]}"` : "its role";
        add({
            code: "DB_PASSWORD_MISMATCH",
            severity: "error",
            role: "api",
            container: c.name,
            cause: `${c.name} cannot log in to the database as ${role} (Postgres 28P01, Prisma P1000): the password in config (cartie:postgresPassword, the api's DATABASE_URL) and the database's disagree`,
            fix: "run `pulumi up`: its db-password step sets the role's password to cartie:postgresPassword before the api moves; if the role's password was changed by hand, make that the config instead (`pulumi config set --secret cartie:postgresPassword`, prompted) and run `pulumi up`",
            pulumiUp: "the db-password step changes the role's password over the db's local socket (or finds it already set), then the api is replaced and switched to",
            evidence: short(p1000.line),
        }, c, "P1000");
    }

    // 5. Nothing of the platform here, something else on its port, components missing or down.
    const d = input.discovery;
    const mustChoose = d !== undefined && d.candidates.length > 1 && !input.legacyProject;
    if (platform.length === 0 && mustChoose) {
        // Nothing to diagnose until one of the candidates is chosen; the report lists them.
    } else if (platform.length === 0) {
        const where = d ? ` (${d.endpoint})` : "";
        const others = d && d.otherStacks.length > 0 ? `; containers of other stacks are here: ${d.otherStacks.map((s) => `\`npm run doctor -- --stack ${s}\``).join(", ")}` : "";
        const what = !d
            ? `no container of stack "${input.stack}"${input.legacyProject ? ` or compose project "${input.legacyProject}"` : ""}`
            : d.hostContainers === 0
              ? `this Docker host${where} has no containers at all`
              : input.legacyProject
                ? `no container of stack "${input.stack}" or of compose project "${input.legacyProject}" (named by ${d.legacySource === "flag" ? "--legacy" : "cartie:legacyComposeProject"}) among the ${d.hostContainers} on this host${where}`
                : `none of the ${d.hostContainers} container${d.hostContainers === 1 ? "" : "s"} on this host${where} is the platform: none labelled for stack "${input.stack}", no compose project that looks like it (services db/api/web/proxy with a Postgres image or a Prisma api)${input.containers.length === 0 ? `, nothing publishing port ${d.port}` : ""}`;
        add({
            code: "PLATFORM_ABSENT",
            severity: "error",
            role: "other",
            cause: `the Cartie platform is not deployed here: ${what}${others}`,
            fix: "restore it with `npm run restore` (or `npm run pulumi -- up`); if it runs on another host, point DOCKER_HOST there",
            pulumiUp: "creates the network, the db on its volume, the migration, api, web and proxy",
        });
    } else {
        // Not the routes responder: stacks deployed before it existed have none, and `pulumi up` adds it; one that is there is checked below like any container.
        const roles: Role[] = ["db", "api", "web", "proxy"];
        for (const role of roles) {
            if (byRole(role).some((c) => c.origin !== "port")) continue;
            add({
                code: "CONTAINER_MISSING",
                severity: "error",
                role,
                cause: `no ${role} container for stack "${input.stack}"${input.legacyProject ? ` or compose project "${input.legacyProject}"` : ""}`,
                fix: "deploy the platform",
                pulumiUp: `creates the ${role} container`,
            });
        }
    }
    for (const c of input.containers.filter((x) => x.origin === "port")) {
        add({
            code: "PORT_TAKEN",
            severity: "error",
            role: "other",
            container: c.name,
            cause: `${c.name} (image ${c.image}) publishes port ${d?.port ?? "the platform's port"}, the platform's public port, and is not the platform: the proxy cannot start while it holds the port`,
            fix: `stop it (\`docker stop ${c.name}\`) if it is a leftover, or set another port: \`npm run pulumi -- config set cartie:publicPort <port>\``,
            pulumiUp: `fails creating the proxy with "port is already allocated" (it never stops a container it does not manage)`,
        });
    }
    const isDown = (c: ContainerFacts): boolean => c.state !== "running" && c.state !== "restarting" && c.state !== "paused";
    /** A stack container left from an earlier release while a healthy one of the same component runs (a deploy in progress, or its leftover). */
    const supersededBy = (c: ContainerFacts): ContainerFacts | undefined =>
        c.origin === "stack" && isDown(c) ? byRole(c.role).find((o) => o !== c && o.origin === "stack" && o.state === "running" && o.health !== "unhealthy") : undefined;
    for (const c of platform) {
        if (c.role === "other") continue;
        const newer = supersededBy(c);
        if (newer) {
            add({
                code: "SUPERSEDED",
                severity: "info",
                role: c.role,
                container: c.name,
                cause: `${c.name} is ${c.state} while ${newer.name} serves the ${c.role}: an earlier release, replaced by a deploy`,
                fix: "nothing while a deploy runs; if it stays after the deploy finished, `docker rm` it",
                pulumiUp: "does not use it: the running release serves the component",
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

    // 7. Symptoms: down, restart loop, unhealthy. A symptom with a cause found above is reported
    // under that cause (its consequence, with the restart count), never as a second finding.
    const causeFor = (c: ContainerFacts): Finding | undefined => {
        const crash = lastCrash(logSigs.get(c.id) ?? []);
        const fromCrash = crash && readAs.get(`${c.id}|${crash.code}`);
        if (fromCrash) return fromCrash;
        return sortFindings(findings.filter((f) => f.container === c.name && f.severity === "error"))[0];
    };
    const attach = (cause: Finding, q: Consequence): void => {
        cause.consequences = [...(cause.consequences ?? []), q];
    };
    for (const c of platform) {
        if (c.role === "other" || supersededBy(c)) continue;
        const cause = causeFor(c);
        const last = c.logLines[c.logLines.length - 1];
        const looping = c.state === "restarting" || c.restartCount >= RESTART_LOOP_THRESHOLD;
        if (looping) {
            const text = `${c.name} ${c.state === "restarting" ? "restarts in a loop" : `has restarted in a loop and is ${c.state}`}: ${c.restartCount} restart${c.restartCount === 1 ? "" : "s"}${c.exitCode !== undefined ? `, last exit code ${c.exitCode}` : ""}`;
            if (cause) attach(cause, { code: "RESTART_LOOP", container: c.name, text, restartCount: c.restartCount, exitCode: c.exitCode });
            else
                add({
                    code: "RESTART_LOOP",
                    severity: "error",
                    role: c.role,
                    container: c.name,
                    cause: text,
                    fix: `read \`docker logs ${c.name}\`${last ? `; last line: ${short(last, 120)}` : ""}`,
                    pulumiUp: `replaces ${c.name} and waits for it to be healthy (the update fails if it is not)`,
                    evidence: last ? short(last) : undefined,
                });
        } else if (isDown(c)) {
            const text = `${c.name} is ${c.state}${c.exitCode !== undefined ? ` (exit code ${c.exitCode})` : ""}`;
            if (cause) attach(cause, { code: "CONTAINER_DOWN", container: c.name, text, exitCode: c.exitCode });
            else
                add({
                    code: "CONTAINER_DOWN",
                    severity: "error",
                    role: c.role,
                    container: c.name,
                    cause: text,
                    fix: `read \`docker logs ${c.name}\`, fix what it names, then \`pulumi up\``,
                    pulumiUp: `recreates ${c.name}`,
                    evidence: last ? short(last) : undefined,
                });
        }
        if (c.health === "unhealthy") {
            const probe = c.healthLog[c.healthLog.length - 1];
            const text = `${c.name} is unhealthy${probe ? `; last healthcheck: ${short(probe, 160)}` : ""}`;
            if (cause) attach(cause, { code: "UNHEALTHY", container: c.name, text });
            else
                add({
                    code: "UNHEALTHY",
                    severity: "error",
                    role: c.role,
                    container: c.name,
                    cause: text,
                    fix: `run the healthcheck by hand (\`docker inspect ${c.name}\` shows it) and read \`docker logs ${c.name}\``,
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
        // The upstream is an alias (api, web) or, since releases get their own containers, a container name.
        const upstreamRole: Role | undefined = upstream && /^(api|web|db)$/.test(upstream) ? (upstream as Role) : platform.find((x) => x.name === upstream)?.role;
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
    const d = input.discovery;
    const choose = d && !input.legacyProject && d.candidates.length > 1 ? d.candidates.map((c) => ({ project: c.project, command: chooseCommand(input.stack, c.project), signals: c.signals })) : undefined;
    return {
        schemaVersion: DOCTOR_SCHEMA_VERSION,
        stack: input.stack,
        legacyProject: input.legacyProject,
        discovery: d,
        choose,
        // With nothing but candidates to choose from, nothing was diagnosed: not healthy.
        healthy: !findings.some((f) => f.severity === "error") && !(choose !== undefined && input.containers.length === 0),
        containers: input.containers,
        findings,
        migrations: summarizeMigrations(input),
        probes: input.probes,
        notes: [...input.notes, ...(input.db?.error ? [`database not inspected: ${input.db.error}`] : []), ...(input.webBundle?.error ? [`web bundle not inspected: ${input.webBundle.error}`] : [])],
    };
}
