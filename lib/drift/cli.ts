/**
 * `npm run drift` (both checks, read-only) and `npm run drift -- --propose` (writes the forward-only
 * fix). Exit codes, the convention of the doctor and the backup commands: report: 0 no drift, 1
 * drift found, 2 bad input or a check could not run; propose: 0 written (or nothing to record),
 * 1 the fix was written but schema.prisma still needs a hand edit, 2 refused.
 */
import * as path from "node:path";
import { parseArgs as nodeParseArgs } from "node:util";
import { loadDoctorConfig } from "../doctor/source";
import { DriftFinding } from "./classify";
import { DriftReport, inspectDrift, ModelOutcome, sourceOf, StackSource } from "./host";
import { newestImage, PrismaSandbox, sandboxPrismaTool } from "./sandbox";
import { ProposeError, proposeAndWrite, ProposeResult } from "./proposeRun";

export const USAGE = `usage: npm run drift -- [--stack NAME] [--cwd DIR] [--json] [--no-model] [--propose [--dry-run]]
  Compares the stack's live database with the schema its migrations produce, and schema.prisma with the
  migrations; never changes the database. --propose writes <next>_fix_schema_drift/migration.sql (forward
  only: it records what the live database has) and the matching schema.prisma lines; review and commit
  them, then \`pulumi up\` marks the fix applied without running it.
  Exit: 0 clean (propose: written), 1 drift found, 2 bad input or the check could not run.`;

export class DriftInputError extends Error {}

export interface DriftCliArgs {
    projectDir: string;
    stack: string;
    json: boolean;
    model: boolean;
    propose: boolean;
    dryRun: boolean;
    help: boolean;
}

export function parseArgs(argv: string[], env: NodeJS.ProcessEnv = process.env): DriftCliArgs {
    let v: ReturnType<typeof parse>["values"];
    try {
        v = parse(argv).values;
    } catch (err) {
        throw new DriftInputError(`${(err as Error).message.split(". ")[0]}\n${USAGE}`);
    }
    const args: DriftCliArgs = {
        projectDir: path.resolve(v.cwd ?? process.cwd()),
        stack: v.stack ?? (env.PULUMI_STACK || "dev"),
        json: v.json ?? false,
        model: !(v["no-model"] ?? false),
        propose: v.propose ?? false,
        dryRun: v["dry-run"] ?? false,
        help: v.help ?? false,
    };
    if (!/^[A-Za-z0-9_.-]+$/.test(args.stack)) throw new DriftInputError(`"${args.stack}" is not a stack name`);
    if (args.dryRun && !args.propose) throw new DriftInputError(`--dry-run goes with --propose\n${USAGE}`);
    return args;
}

function parse(argv: string[]) {
    return nodeParseArgs({
        args: argv,
        strict: true,
        allowPositionals: false,
        options: {
            stack: { type: "string", short: "s" },
            cwd: { type: "string" },
            json: { type: "boolean" },
            "no-model": { type: "boolean" },
            propose: { type: "boolean" },
            "dry-run": { type: "boolean" },
            help: { type: "boolean", short: "h" },
        },
    });
}

/** The stack's source as the program would read it (stack file, `.env`, defaults). */
export function stackSource(projectDir: string, stack: string): StackSource {
    const conf = loadDoctorConfig(projectDir, stack, {});
    if (!conf.cfg) throw new DriftInputError(`the stack's config is invalid, so its app is unknown: ${conf.problems.map((p) => `${p.key}: ${p.problem}`).join("; ")}`);
    return sourceOf(conf.cfg, projectDir, stack, conf.project);
}

export function renderFinding(f: DriftFinding, i: number): string[] {
    const lines = [
        `${String(i + 1).padStart(2)}. [${f.severity}] ${f.code} ${f.subject}${f.liveName ? ` → ${f.liveName} (live)` : ""}${f.data ? ` [${f.data}]` : ""}${f.fixedByPending ? " (the pending migrations fix it)" : ""}`,
        `    differs:   ${f.detail}`,
        `    means:     ${f.api}`,
        `    fix:       ${f.fix}`,
    ];
    if (f.restoreSql && f.restoreSql.includes("\n")) lines.push(...f.restoreSql.split("\n").map((l) => `               ${l}`));
    return lines;
}

export function renderModel(m: ModelOutcome): string {
    if (m.status === "clean") return "Model (schema.prisma against the migrations, by `prisma migrate diff`): they agree.";
    if (m.status === "drift") return `Model (schema.prisma against the migrations): MODEL_DRIFT\n${m.message.replace(/^/gm, "  ")}`;
    return `Model (schema.prisma against the migrations): not checked: ${m.reason}`;
}

export function renderReport(r: DriftReport): string {
    const out: string[] = [];
    const db = r.db ? `database ${r.db.database} in ${r.db.container}` : "no database";
    out.push(`Cartie drift: stack "${r.stack}", ${db}; applied: ${r.applied.join(", ") || "none"}; pending: ${r.pending.join(", ") || "none"}`);
    out.push("");
    const live = r.live;
    if (live.status === "not-run") out.push(`Live schema: not checked: ${live.reason ?? "unknown"}`);
    else if (live.status === "clean") out.push("Live schema: it is exactly what the applied migrations produce.");
    else {
        out.push(`Live schema against the migrations: ${live.findings.length} difference(s), most important first:`);
        live.findings.forEach((f, i) => out.push(...renderFinding(f, i)));
    }
    for (const name of live.driftFixesPresent) out.push(`Pending ${name}: the live database already has what it records; \`pulumi up\` marks it applied without running it.`);
    if (live.refusal) out.push("", `\`pulumi up\` would stop in the Migration step, before anything changes:\n${live.refusal.replace(/^/gm, "  ")}`);
    out.push("", renderModel(r.model));
    for (const n of r.notes) out.push(`note: ${n}`);
    out.push("");
    const recordable = live.findings.filter((f) => f.direction === "record" && !f.fixedByPending).length;
    if (live.status === "clean" && r.model.status === "clean") out.push("NO DRIFT");
    else if (live.status === "drift" || r.model.status === "drift")
        out.push(`DRIFT${recordable > 0 && r.pending.length === 0 ? `: \`npm run drift -- --propose\` records the ${recordable} difference(s) marked "record"` : ""}`);
    else out.push("NOT CHECKED");
    return out.join("\n");
}

export function renderProposal(p: ProposeResult): string {
    const out: string[] = [];
    if (p.proposal.recorded.length === 0) {
        out.push("Nothing to record: the live database has nothing the migrations lack.");
        for (const n of p.proposal.notRecorded) out.push(`  not recorded: ${n.finding.subject}: ${n.why}`);
        return out.join("\n");
    }
    out.push(`${p.dryRun ? "Would write" : "Wrote"} ${p.migrationFile ?? `${p.proposal.name}/migration.sql`}: ${p.proposal.statements.length} statement(s) recording ${p.proposal.recorded.length} difference(s); proven: the migrations plus it give the live schema.`);
    for (const f of p.proposal.recorded) out.push(`  recorded: ${f.subject}${f.liveName ? ` → ${f.liveName}` : ""} (${f.code})`);
    for (const n of p.proposal.notRecorded) out.push(`  not recorded: ${n.finding.subject}: ${n.why}`);
    if (p.schemaChanges.length > 0) {
        out.push(`${p.dryRun ? "Would change" : "Changed"} schema.prisma (Prisma's introspection, merged; its model check is clean):`);
        for (const c of p.schemaChanges) out.push(`  ${c}`);
    } else if (p.schemaNotChanged) out.push(`schema.prisma NOT changed: ${p.schemaNotChanged}`);
    if (!p.dryRun) out.push("", "Next: review both, commit them, and run `pulumi up`: the Migration step checks that the live schema matches and marks the fix applied; nothing runs against the live database.");
    return out.join("\n");
}

export async function main(argv: string[], out: (s: string) => void = (s) => process.stdout.write(s), err: (s: string) => void = (s) => process.stderr.write(s)): Promise<number> {
    let args: DriftCliArgs;
    try {
        args = parseArgs(argv);
        if (args.help) {
            out(`${USAGE}\n`);
            return 0;
        }
        const src = stackSource(args.projectDir, args.stack);
        const run = await inspectDrift(src, { model: args.model && !args.propose ? "sandbox" : false });
        if (!args.propose) {
            out(`${args.json ? JSON.stringify(run.report, null, 2) : renderReport(run.report)}\n`);
            const r = run.report;
            if (r.live.status === "drift" || r.model.status === "drift") return 1;
            return r.live.status === "clean" && (r.model.status === "clean" || !args.model) ? 0 : 2;
        }
        if (!run.session || !run.check || !run.report.db) throw new DriftInputError(`cannot propose: ${run.report.live.reason ?? "the live check did not run"}`);
        const image = newestImage([`${src.prefix}-api-migrator`, `${src.prefix}-api`]);
        let box: PrismaSandbox | undefined;
        try {
            if (image) box = PrismaSandbox.open({ prefix: src.prefix, prismaImage: image.ref, postgresImage: src.postgresImage, apiDir: src.apiDir });
        } catch (e) {
            run.report.notes.push(`no Prisma sandbox: ${(e as Error).message}`);
        }
        let result: ProposeResult;
        try {
            result = await proposeAndWrite({
                session: run.session,
                check: run.check,
                apiDir: src.apiDir,
                database: run.report.db.database,
                stack: args.stack,
                prisma: box ? sandboxPrismaTool(box, src.apiDisplay) : undefined,
                dryRun: args.dryRun,
            });
        } finally {
            box?.close();
        }
        out(`${args.json ? JSON.stringify({ ...run.report, proposal: { name: result.proposal.name, file: result.migrationFile, sql: result.proposal.sql, recorded: result.proposal.recorded.map((f) => f.code + " " + f.subject), notRecorded: result.proposal.notRecorded.map((n) => ({ subject: n.finding.subject, why: n.why })), schemaChanges: result.schemaChanges, schemaNotChanged: result.schemaNotChanged } }, null, 2) : renderProposal(result)}\n`);
        return result.schemaNotChanged && result.proposal.recorded.length > 0 ? 1 : 0;
    } catch (e) {
        if (e instanceof DriftInputError || e instanceof ProposeError) {
            err(`drift: ${e.message}\n`);
            return 2;
        }
        err(`drift: internal error: ${(e as Error).message?.split("\n")[0] ?? String(e)}\n`);
        return 2;
    }
}
