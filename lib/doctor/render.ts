/** The doctor's output: a table and numbered findings for people, JSON for machines. */
import { ContainerFacts, DoctorReport, Finding } from "./types";
import { renderBackupStatus } from "./backups";
import { renderCertificates } from "./certificates";
import { renderDrift } from "./drift";

export function formatDuration(seconds: number | undefined): string {
    if (seconds === undefined) return "-";
    if (seconds < 60) return `${seconds}s`;
    if (seconds < 3600) return `${Math.floor(seconds / 60)}m`;
    if (seconds < 86400) return `${Math.floor(seconds / 3600)}h${String(Math.floor((seconds % 3600) / 60)).padStart(2, "0")}m`;
    return `${Math.floor(seconds / 86400)}d${Math.floor((seconds % 86400) / 3600)}h`;
}

function table(rows: string[][]): string {
    const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
    return rows.map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]))).join("  ").trimEnd()).join("\n");
}

/** Whether the container's image matches the current source, for the SOURCE column. */
function sourceColumn(c: ContainerFacts, findings: Finding[]): string {
    if (c.role !== "api" && c.role !== "web") return "-";
    const stale = findings.find((f) => f.code === "STALE_IMAGE" && f.container === c.name);
    if (stale) return stale.severity === "error" ? "STALE" : "unknown";
    return c.contentTag ? "current" : "unknown";
}

function stateColumn(c: ContainerFacts): string {
    if (c.state === "exited" || c.state === "dead") return `${c.state}(${c.exitCode ?? "?"})`;
    return c.state;
}

/** The first line: what was looked at, and how the compose project was chosen. */
export function renderHeader(report: DoctorReport): string {
    const d = report.discovery;
    const p = report.legacyProject;
    let legacy = "";
    if (p) {
        if (d?.legacySource === "discovered") {
            const signals = d.candidates.find((c) => c.project === p)?.signals ?? [];
            legacy = ` + compose project "${p}", found on this host (${signals.join("; ")}); nobody named it: pass --legacy ${p} or set cartie:legacyComposeProject to make that explicit`;
        } else if (d?.legacySource === "config") legacy = ` + compose project "${p}" (cartie:legacyComposeProject)`;
        else legacy = ` + compose project "${p}" (--legacy)`;
    }
    return `Cartie doctor: stack "${report.stack}"${legacy}`;
}

export function renderText(report: DoctorReport, opts: { logLines?: number } = {}): string {
    const logLines = opts.logLines ?? 5;
    const out: string[] = [];
    if (report.choose) {
        const stackPart = report.containers.some((c) => c.origin === "stack") ? "" : `no container of stack "${report.stack}"; `;
        out.push(`Cartie doctor: ${stackPart}${report.choose.length} compose projects on this host look like the platform. Choose one:`);
        for (const c of report.choose) out.push(`  ${c.command}    # ${c.signals.join("; ")}`);
        out.push(`  (or name it for good: npm run pulumi -- config set cartie:legacyComposeProject <project>)`);
        if (report.containers.length === 0) return out.join("\n");
        out.push("");
    }
    // Nothing of the platform and nothing in its way: the whole answer is one line (config problems
    // only named in it: `npm run restore` generates missing secrets, --json has them in full).
    const absent = report.findings.find((f) => f.code === "PLATFORM_ABSENT");
    const config = report.findings.filter((f) => f.code === "CONFIG_INVALID");
    if (absent && report.containers.length === 0 && report.findings.length === 1 + config.length) {
        const keys = config.map((f) => f.cause.split(" ")[0]);
        return `Cartie doctor: ${absent.cause}. Fix: ${absent.fix}.${keys.length > 0 ? ` Config problems \`pulumi up\` would stop at: ${keys.join(", ")} (see --json).` : ""}`;
    }
    out.push(renderHeader(report));
    out.push("");
    if (report.containers.length === 0) out.push("No containers found.");
    else {
        const rows = [["CONTAINER", "ROLE", "STATE", "HEALTH", "RESTARTS", "UP", "IMAGE", "SOURCE"]];
        for (const c of report.containers) {
            rows.push([c.name, c.role, stateColumn(c), c.health ?? "-", String(c.restartCount), formatDuration(c.uptimeSeconds), c.image, sourceColumn(c, report.findings)]);
        }
        out.push(table(rows));
    }
    out.push("");
    if (report.findings.length === 0) out.push("Findings: none.");
    else {
        out.push(`Findings (most important first):`);
        report.findings.forEach((f, i) => {
            out.push(`${String(i + 1).padStart(2)}. [${f.severity}] ${f.code}${f.container ? ` ${f.container}` : ""}`);
            out.push(`    cause:     ${f.cause}`);
            if (f.api) out.push(`    means:     ${f.api}`);
            out.push(`    fix:       ${f.fix}`);
            out.push(`    pulumi up: ${f.pulumiUp}`);
            if (f.evidence) out.push(`    evidence:  ${f.evidence}`);
            if (f.reading) out.push(`    reading:   ${f.reading}`);
            for (const q of f.consequences ?? []) out.push(`    effect:    ${q.text}`);
        });
    }
    const m = report.migrations;
    if (m) {
        out.push("");
        out.push(
            `Migrations: applied ${m.applied.length} [${m.applied.join(", ")}], pending ${m.pending.length} [${m.pending.join(", ")}], failed ${m.failed.length} [${m.failed.join(", ")}], unknown ${m.unknown.length} [${m.unknown.join(", ")}]; baseline needed: ${m.baselineNeeded ? "yes" : "no"}; tables: ${m.appTables.join(", ") || "none"}`,
        );
    }
    if (report.drift) {
        out.push("");
        out.push(renderDrift(report.drift));
    }
    if (report.backups) {
        out.push("");
        out.push(renderBackupStatus(report.backups));
    }
    if (report.certificates && report.certificates.length > 0) {
        out.push("");
        out.push(renderCertificates(report.certificates));
    }
    if (report.probes.length > 0) {
        out.push("");
        out.push(`Through the proxy: ${report.probes.map((p) => `${p.url} → ${p.status ?? p.error ?? "?"}`).join("; ")}`);
    }
    if (logLines > 0) {
        const withLogs = report.containers.filter((c) => c.logLines.length > 0);
        if (withLogs.length > 0) {
            out.push("");
            out.push(`Last log lines (secrets masked):`);
            for (const c of withLogs) {
                out.push(`  ${c.name}:`);
                for (const l of c.logLines.slice(-logLines)) out.push(`    ${l.length > 300 ? `${l.slice(0, 299)}…` : l}`);
            }
        }
    }
    if (report.notes.length > 0) {
        out.push("");
        for (const n of report.notes) out.push(`note: ${n}`);
    }
    out.push("");
    const errors = report.findings.filter((f) => f.severity === "error").length;
    const warns = report.findings.filter((f) => f.severity === "warn").length;
    out.push(report.healthy ? `HEALTHY${warns > 0 ? ` (${warns} warning${warns === 1 ? "" : "s"})` : ""}` : `UNHEALTHY: ${errors} error${errors === 1 ? "" : "s"}${warns > 0 ? `, ${warns} warning${warns === 1 ? "" : "s"}` : ""}. \`pulumi up\` fixes what is marked above; fix config problems first.`);
    return out.join("\n");
}

/** The report as JSON: `schemaVersion` says which shape; finding codes are stable. */
export function renderJson(report: DoctorReport): string {
    return JSON.stringify(report, null, 2);
}
