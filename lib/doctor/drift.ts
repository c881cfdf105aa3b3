/**
 * The doctor's view of schema drift (lib/drift): one finding per difference between the live
 * database and the migrations (SCHEMA_DRIFT, with lib/drift's own code), one per model that
 * schema.prisma changed without a migration (MODEL_DRIFT). Pure: the checks ran in run.ts.
 */
import { DriftFinding } from "../drift/classify";
import { DriftReport } from "../drift/host";
import { sortFindings } from "./classify";
import { DoctorDrift, DoctorReport, Finding } from "./types";

export type { DoctorDrift } from "./types";

function cause(f: DriftFinding): string {
    switch (f.change) {
        case "missing":
            return `${f.subject} is in the migrations but not in the live database`;
        case "extra":
            return `${f.subject} is in the live database but in no migration`;
        case "renamed":
            return `${f.subject} is in the live database as ${f.liveName}`;
        default:
            return `${f.subject} differs from the migrations: ${f.detail}`;
    }
}

export function schemaDriftFinding(f: DriftFinding, container: string | undefined): Finding {
    const stops = f.severity === "error" && !f.fixedByPending;
    return {
        code: "SCHEMA_DRIFT",
        severity: f.severity,
        role: "db",
        ...(container ? { container } : {}),
        cause: `${cause(f)}${f.data ? ` (${f.data})` : ""}`,
        api: f.api,
        fix: f.restoreSql && f.restoreSql.includes("\n") ? `${f.fix}:\n${f.restoreSql}` : f.fix,
        pulumiUp: f.fixedByPending
            ? "the pending migrations fix it"
            : stops
              ? "the Migration step stops before it changes anything and names this difference (it runs with a new migration or a new db container)"
              : "nothing: the Migration step logs it and goes on",
        evidence: f.detail,
        drift: { code: f.code, kind: f.kind, change: f.change, ...(f.table ? { table: f.table } : {}), name: f.name, ...(f.liveName ? { liveName: f.liveName } : {}), detail: f.detail, ...(f.restoreSql ? { restoreSql: f.restoreSql } : {}) },
    };
}

export function driftFindings(r: DriftReport): Finding[] {
    const container = r.db?.container;
    const out = r.live.findings.map((f) => schemaDriftFinding(f, container));
    if (r.model.status === "drift") {
        const m = r.model;
        for (const c of m.changes) {
            out.push({
                code: "MODEL_DRIFT",
                severity: "error",
                role: "api",
                cause: `${c.model ? `model ${c.model} (${c.table})` : c.table} in schema.prisma has changes no migration makes: ${c.changes.join("; ")}`,
                api: "an api built from this source expects a schema the migrations do not create: its queries fail (Prisma P2021/P2022) on every database the migrations built",
                fix: `add the missing migration ${m.migration} (\`npx prisma migrate diff --from-migrations prisma/migrations --to-schema-datamodel prisma/schema.prisma --script\` writes it), or undo the schema.prisma change`,
                pulumiUp: "`pulumi preview` and `pulumi up` stop before building any image, with this message",
                evidence: m.sql.split("\n").find((l) => l.trim() !== "" && !l.startsWith("--")) ?? c.changes[0],
            });
        }
    }
    return out;
}

/** The report with the drift findings and the checks' status; an error-level difference makes it unhealthy. */
export function withDrift(report: DoctorReport, r: DriftReport): DoctorReport {
    const added = driftFindings(r);
    const notes: string[] = [...r.notes];
    if (r.live.status === "not-run" && r.live.reason) notes.push(`schema drift not checked: ${r.live.reason}`);
    if (r.model.status === "not-run" || r.model.status === "unknown") notes.push(`model drift not checked: ${r.model.reason}`);
    for (const name of r.live.driftFixesPresent) notes.push(`pending ${name}: the live database already has what it records; \`pulumi up\` marks it applied without running it`);
    const modelReason = r.model.status === "not-run" || r.model.status === "unknown" ? { reason: r.model.reason } : {};
    return {
        ...report,
        findings: sortFindings([...report.findings, ...added]),
        healthy: report.healthy && !added.some((f) => f.severity === "error"),
        notes: [...report.notes, ...notes],
        drift: {
            live: { status: r.live.status, ...(r.live.reason ? { reason: r.live.reason } : {}), applied: r.applied, pending: r.pending, driftFixesPresent: r.live.driftFixesPresent },
            model: { status: r.model.status, ...modelReason },
        },
    };
}

export function renderDrift(d: DoctorDrift): string {
    const live = d.live.status === "not-run" ? `not checked (${d.live.reason ?? "no database"})` : d.live.status === "clean" ? "the live schema is what the applied migrations produce" : "differs (SCHEMA_DRIFT above)";
    const model = d.model.status === "clean" ? "schema.prisma agrees with the migrations" : d.model.status === "drift" ? "schema.prisma has changes no migration makes (MODEL_DRIFT above)" : `not checked (${d.model.reason ?? ""})`;
    return `Schema drift: ${live}; model: ${model}. Details and the fix: \`npm run drift\`.`;
}
