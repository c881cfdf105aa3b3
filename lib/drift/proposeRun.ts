/**
 * `npm run drift -- --propose`: the forward-only fix, proven before it is written.
 * 1. the migration's SQL (lib/drift/propose.ts) from the live check's findings;
 * 2. proof: the applied migrations plus it, built in a scratch database, give the live schema
 *    (nothing left but what is deliberately not recorded); otherwise nothing is written;
 * 3. schema.prisma: Prisma's own introspection of that database, merged line by line
 *    (lib/drift/prismaMerge.ts), then Prisma's model check of the migrations plus the fix against
 *    the merged file; only a clean check lets the file be changed;
 * 4. the folder `<next>_fix_schema_drift/` with migration.sql, and schema.prisma, written.
 * Nothing touches the live database: it is read, and the Migration step later marks the fix applied.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { DriftFinding } from "./classify";
import { DriftSession, LiveCheck, objectKey } from "./check";
import { diffSchemas } from "./diff";
import { ModelCheck } from "./model";
import { applyTableRenames, mergePulled } from "./prismaMerge";
import { Proposal, proposeFix } from "./propose";

/** Prisma where the proposal needs it (a throwaway sandbox in the CLI, the host's Prisma in tests). */
export interface PrismaTool {
    /** `prisma db pull --print` of a fresh database holding `sqls` (in order), re-introspecting `schemaText`. */
    pull(sqls: string[], schemaText: string): Promise<{ code: number; stdout: string; stderr: string }>;
    /** Prisma's model check of a `prisma/` folder (schema.prisma + migrations). */
    modelCheck(prismaDir: string, schemaText: string, migrations: string[]): Promise<ModelCheck>;
}

export class ProposeError extends Error {}

export interface ProposeResult {
    proposal: Proposal;
    /** Where migration.sql was written. */
    migrationFile?: string;
    /** schema.prisma edits made (empty when it needed none). */
    schemaChanges: string[];
    /** Why schema.prisma was not changed although the fix touches what the api's models map. */
    schemaNotChanged?: string;
    /** What the model check said about the migrations plus the fix against the (merged) schema.prisma. */
    modelCheck?: ModelCheck;
    dryRun: boolean;
}

export interface ProposeOptions {
    session: DriftSession;
    check: LiveCheck;
    /** The api folder of the working tree (its prisma/ gets the new migration and the schema edits). */
    apiDir: string;
    database: string;
    stack?: string;
    prisma?: PrismaTool;
    /** Compute and prove, write nothing. */
    dryRun?: boolean;
    now?: Date;
}

export async function proposeAndWrite(o: ProposeOptions): Promise<ProposeResult> {
    const { check, session } = o;
    if (check.pending.length > 0)
        throw new ProposeError(
            `the live database has not applied ${check.pending.join(", ")} yet: a fix written now would run after ${check.pending.length === 1 ? "it" : "them"} and record the wrong schema. ` +
                "Undo the hand changes the Migration step names, or apply the pending migrations first; then propose again",
        );
    const proposal = proposeFix({ findings: check.findings, expected: check.expected, live: check.live, migrations: check.applied, database: o.database, stack: o.stack, now: o.now });
    if (proposal.recorded.length === 0) return { proposal, schemaChanges: [], dryRun: o.dryRun === true };

    // 2. the proof.
    const withFix = [...check.applied, proposal.name];
    const built = await session.buildWith(withFix, [{ name: proposal.name, sql: proposal.sql }]);
    const left = diffSchemas(built, check.live);
    const allowed = new Set(proposal.notRecorded.map((n) => objectKey(n.finding)));
    const unexpected = left.filter((d) => !allowed.has(objectKey(d)));
    if (unexpected.length > 0)
        throw new ProposeError(
            `the proposed migration does not reproduce the live schema (nothing was written); left over:\n${unexpected.map((d) => `  - ${d.kind} ${d.table ? `${d.table}.` : ""}${d.name}: ${d.change} (${d.detail})`).join("\n")}\nrecord these by hand`,
        );

    // 3. schema.prisma.
    const schemaFile = path.join(o.apiDir, "prisma", "schema.prisma");
    const original = fs.existsSync(schemaFile) ? fs.readFileSync(schemaFile, "utf8") : undefined;
    let schemaText = original;
    let schemaChanges: string[] = [];
    let schemaNotChanged: string | undefined;
    let modelCheck: ModelCheck | undefined;
    const prisma = o.prisma;
    if (original !== undefined && prisma) {
        const renames = Object.fromEntries(check.findings.filter((f: DriftFinding) => f.kind === "table" && f.change === "renamed").map((f) => [f.name, f.liveName ?? f.name]));
        const renamed = applyTableRenames(original, renames);
        const sqls = [...session.migrations.filter((m) => check.applied.includes(m.name)).map((m) => m.sql), proposal.sql];
        const pulled = await prisma.pull(sqls, renamed);
        if (pulled.code !== 0) schemaNotChanged = `prisma db pull failed (exit ${pulled.code}): ${(pulled.stderr || pulled.stdout).trim().split("\n").slice(-3).join(" | ")}`;
        else {
            const merged = mergePulled(renamed, pulled.stdout, `Recorded from the live database by \`npm run drift -- --propose\` (${proposal.name})`);
            schemaChanges = [...Object.entries(renames).map(([from, to]) => `table ${from} is now mapped as ${to} (@@map)`), ...merged.changes];
            modelCheck = await withPrismaDir(o.apiDir, proposal, merged.text, (dir) => prisma.modelCheck(dir, merged.text, withFix));
            if (modelCheck.status === "clean") schemaText = merged.text;
            else {
                schemaNotChanged =
                    modelCheck.status === "drift"
                        ? `with the merged schema.prisma, Prisma still sees model drift, so it was left as it is; make it match Prisma's introspection by hand:\n${modelCheck.message}`
                        : `the model check could not run, so schema.prisma was left as it is: ${modelCheck.reason}`;
                schemaChanges = [];
            }
        }
    } else if (original !== undefined) schemaNotChanged = "no Prisma to introspect with (no api image of the stack on this host): update schema.prisma by hand, then `npm run drift` checks it";

    // 4. write.
    if (o.dryRun) return { proposal, schemaChanges, schemaNotChanged, modelCheck, dryRun: true };
    const dir = path.join(o.apiDir, "prisma", "migrations", proposal.name);
    if (fs.existsSync(dir)) throw new ProposeError(`${dir} exists already: commit or remove it, then propose again`);
    fs.mkdirSync(dir);
    const migrationFile = path.join(dir, "migration.sql");
    fs.writeFileSync(migrationFile, proposal.sql);
    if (schemaText !== undefined && schemaText !== original) fs.writeFileSync(schemaFile, schemaText);
    return { proposal, migrationFile, schemaChanges, schemaNotChanged, modelCheck, dryRun: false };
}

/** A temporary copy of prisma/ with the fix and the merged schema, for Prisma's model check. */
async function withPrismaDir<T>(apiDir: string, proposal: Proposal, schemaText: string, fn: (dir: string) => Promise<T>): Promise<T> {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "cartie-drift-propose-"));
    try {
        const dir = path.join(tmp, "prisma");
        fs.cpSync(path.join(apiDir, "prisma"), dir, { recursive: true });
        fs.mkdirSync(path.join(dir, "migrations", proposal.name), { recursive: true });
        fs.writeFileSync(path.join(dir, "migrations", proposal.name, "migration.sql"), proposal.sql);
        fs.writeFileSync(path.join(dir, "schema.prisma"), schemaText);
        // The api image runs Prisma as an unprivileged user: it must be able to read the copy.
        for (const p of [tmp, ...walk(tmp)]) fs.chmodSync(p, fs.statSync(p).isDirectory() ? 0o755 : 0o644);
        return await fn(dir);
    } finally {
        fs.rmSync(tmp, { recursive: true, force: true });
    }
}

function walk(dir: string): string[] {
    return fs.readdirSync(dir, { withFileTypes: true }).flatMap((d) => {
        const p = path.join(dir, d.name);
        return d.isDirectory() ? [p, ...walk(p)] : [p];
    });
}
