/**
 * The forward-only migration that makes the migrations produce what the live database already
 * has: `<next>_fix_schema_drift/migration.sql`. Pure: from the classified differences and the two
 * schemas to the file's text. It records only what the live database added or changed (see
 * lib/drift/classify.ts for why a missing thing is never proposed as a drop); the caller proves
 * the result by building the migrations plus this one in a scratch database and comparing it with
 * the live schema before anything is written.
 *
 * On the live database the migration is marked applied, never run: the Migration step does that
 * once its check shows the live schema equals the migrations up to this one (DRIFT_FIX_MARKER says
 * which migrations it may treat so). On any other database it runs and creates the same schema.
 */
import { quoteIdent } from "./catalog";
import {
    addColumnSql,
    alterSequenceSql,
    checkSql,
    createEnumSql,
    createSequenceSql,
    createTableSql,
    createViewSql,
    dropIndexSql,
    foreignKeySql,
    hasInnerSemicolon,
    indexSql,
    ownSequenceSql,
    renameConstraintSql,
} from "./ddl";
import { DriftFinding, findingLine } from "./classify";
import { ownedSequenceOf } from "./normalise";
import { SchemaSnapshot, SequenceFacts, TableFacts } from "./types";

/** The line that makes a migration a drift fix the Migration step may mark applied after checking. */
export const DRIFT_FIX_MARKER = "-- cartie:drift-fix v1";
export const FIX_SUFFIX = "fix_schema_drift";

export function isDriftFix(sql: string): boolean {
    return sql.split(/\r?\n/).some((l) => l.trim() === DRIFT_FIX_MARKER);
}

/**
 * The next migration's name after the last one: `v42_add_sessions` → `v43_fix_schema_drift`,
 * `0007_x` → `0008_…`, a 14-digit Prisma timestamp → now (or one more than the last).
 */
export function nextMigrationName(existing: string[], suffix: string = FIX_SUFFIX, now: Date = new Date()): string {
    const last = [...existing].sort().at(-1);
    const m = last ? /^([A-Za-z]*)(\d+)_/.exec(last) : null;
    if (!m) return last ? `${last}_${suffix}` : `v1_${suffix}`;
    const [, prefix, digits] = m;
    let next = BigInt(digits) + 1n;
    if (digits.length === 14 && prefix === "") {
        const stamp = BigInt(now.toISOString().replace(/\D/g, "").slice(0, 14));
        if (stamp > next) next = stamp;
    }
    return `${prefix}${next.toString().padStart(digits.length, "0")}_${suffix}`;
}

export interface NotRecorded {
    finding: DriftFinding;
    why: string;
}

export interface Proposal {
    name: string;
    /** The whole migration.sql, header included. */
    sql: string;
    statements: string[];
    recorded: DriftFinding[];
    notRecorded: NotRecorded[];
}

export interface ProposeInput {
    findings: DriftFinding[];
    /** The schema the applied migrations produce. */
    expected: SchemaSnapshot;
    live: SchemaSnapshot;
    /** Local migrations, all applied to the live database. */
    migrations: string[];
    /** For the header: which database, which stack. */
    database: string;
    stack?: string;
    now?: Date;
}

/** Statement groups run in this order: renames first (later statements use the live names), views last. */
type Phase = 0 | 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8 | 9;

interface Planned {
    phase: Phase;
    finding: DriftFinding;
    sql: string[];
}

const q = quoteIdent;

function sequenceFor(live: SchemaSnapshot, expected: SchemaSnapshot, t: TableFacts, column: string): SequenceFacts | undefined {
    const col = t.columns.find((c) => c.name === column);
    if (!col || col.identity) return undefined;
    const owned = ownedSequenceOf(live, t.name, column);
    if (!owned) return undefined;
    // Already there in the migrations' schema (same owner): nothing to create.
    return expected.sequences.some((s) => s.name === owned.name) ? undefined : owned;
}

/** The statements for one finding, or why it is not recorded. */
function plan(f: DriftFinding, input: ProposeInput, liveTable: (expectedName: string) => string): Planned | NotRecorded {
    const { live, expected } = input;
    if (f.direction === "restore") return { finding: f, why: "the migrations have it and the live database lacks it: recording it would be a drop, so restore it in the live database instead" };
    const lt = live.tables.find((t) => t.name === liveTable(f.table ?? f.name));
    const et = expected.tables.find((t) => t.name === (f.table ?? f.name));
    const table = lt?.name ?? f.table ?? f.name;
    switch (f.kind) {
        case "table": {
            if (f.change === "renamed") return { phase: 0, finding: f, sql: [`ALTER TABLE ${q(f.name)} RENAME TO ${q(f.liveName ?? f.name)};`] };
            if (!lt) break;
            const seqs = lt.columns.map((c) => sequenceFor(live, expected, lt, c.name)).filter((s): s is SequenceFacts => s !== undefined);
            return {
                phase: 3,
                finding: f,
                sql: [
                    ...seqs.map(createSequenceSql),
                    createTableSql(lt),
                    ...seqs.map(ownSequenceSql).filter((s): s is string => s !== undefined),
                    ...lt.indexes.filter((i) => !(i.primary && i.constraint)).map((i) => indexSql(lt.name, i)),
                    ...lt.checks.map((c) => checkSql(lt.name, c)),
                ],
            };
        }
        case "column": {
            const col = lt?.columns.find((c) => c.name === f.name);
            if (!lt || !col) break;
            const seq = sequenceFor(live, expected, lt, col.name);
            const withSeq = (statements: string[]): string[] => (seq ? [createSequenceSql(seq), ...statements, ownSequenceSql(seq) ?? ""].filter(Boolean) : statements);
            if (f.change === "extra") return { phase: 4, finding: f, sql: withSeq([addColumnSql(table, col)]) };
            const aspects = f.aspects ?? [];
            if (aspects.includes("generated")) return { finding: f, why: "PostgreSQL 15 cannot change a generated column's expression in place; change the migrations by hand" };
            const alter = (what: string): string => `ALTER TABLE ${q(table)} ALTER COLUMN ${q(col.name)} ${what};`;
            const sql: string[] = [];
            const before = et?.columns.find((c) => c.name === f.name);
            if (aspects.includes("identity") && before?.identity && !col.identity) sql.push(alter("DROP IDENTITY"));
            if (aspects.includes("type") || aspects.includes("collation"))
                sql.push(alter(`TYPE ${col.type}${col.collation ? ` COLLATE ${q(col.collation)}` : ""}${aspects.includes("type") ? ` USING ${q(col.name)}::${col.type}` : ""}`));
            if (aspects.includes("nullability")) sql.push(alter(col.notNull ? "SET NOT NULL" : "DROP NOT NULL"));
            if (aspects.includes("default") && !col.identity) sql.push(alter(col.default !== undefined ? `SET DEFAULT ${col.default}` : "DROP DEFAULT"));
            if (aspects.includes("identity") && col.identity) sql.push(before?.identity ? alter(`SET GENERATED ${col.identity.toUpperCase()}`) : alter(`ADD GENERATED ${col.identity.toUpperCase()} AS IDENTITY`));
            return { phase: 5, finding: f, sql: withSeq(sql) };
        }
        case "index": {
            const ix = lt?.indexes.find((i) => i.name === (f.liveName ?? f.name));
            if (f.change === "renamed") {
                const old = et?.indexes.find((i) => i.name === f.name);
                return old?.constraint && ix?.constraint
                    ? { phase: 6, finding: f, sql: [renameConstraintSql(table, old.constraint, ix.constraint)] }
                    : { phase: 6, finding: f, sql: [`ALTER INDEX ${q(f.name)} RENAME TO ${q(f.liveName ?? f.name)};`] };
            }
            if (!ix) break;
            if (f.change === "extra") return { phase: 6, finding: f, sql: [indexSql(table, ix)] };
            const old = et?.indexes.find((i) => i.name === f.name);
            return { phase: 6, finding: f, sql: [...(old ? [dropIndexSql(table, old)] : []), indexSql(table, ix)] };
        }
        case "foreign-key":
        case "check": {
            if (f.change === "renamed") return { phase: f.kind === "check" ? 7 : 8, finding: f, sql: [renameConstraintSql(table, f.name, f.liveName ?? f.name)] };
            const add = f.kind === "check" ? lt?.checks.find((c) => c.name === f.name) : lt?.foreignKeys.find((c) => c.name === f.name);
            if (!add) break;
            const addSql = f.kind === "check" ? checkSql(table, add as TableFacts["checks"][number]) : foreignKeySql(table, add as TableFacts["foreignKeys"][number]);
            const drop = f.change === "changed" ? [`ALTER TABLE ${q(table)} DROP CONSTRAINT ${q(f.name)};`] : [];
            return { phase: f.kind === "check" ? 7 : 8, finding: f, sql: [...drop, addSql] };
        }
        case "enum": {
            const e = live.enums.find((x) => x.name === f.name);
            if (!e) break;
            if (f.change === "extra") return { phase: 1, finding: f, sql: [createEnumSql(e)] };
            const before = expected.enums.find((x) => x.name === f.name)?.labels ?? [];
            // Only added labels can be recorded: PostgreSQL cannot remove or reorder an enum's labels.
            const kept = e.labels.filter((l) => before.includes(l));
            if (kept.join("\u0000") !== before.join("\u0000")) return { finding: f, why: "the live enum lost or reordered labels, which PostgreSQL cannot do with ALTER TYPE; change the migrations by hand" };
            const sql = e.labels.flatMap((label, i) => (before.includes(label) ? [] : [`ALTER TYPE ${q(e.name)} ADD VALUE '${label.replace(/'/g, "''")}'${i > 0 ? ` AFTER '${e.labels[i - 1].replace(/'/g, "''")}'` : e.labels.length > 1 ? ` BEFORE '${e.labels[1].replace(/'/g, "''")}'` : ""};`]));
            return { phase: 1, finding: f, sql };
        }
        case "sequence": {
            const s = live.sequences.find((x) => x.name === f.name);
            if (!s) break;
            return { phase: 2, finding: f, sql: [f.change === "extra" ? createSequenceSql(s) : alterSequenceSql(s)] };
        }
        case "view": {
            const v = live.views.find((x) => x.name === f.name);
            if (!v) break;
            const drop = f.change === "changed" ? [`DROP ${v.materialized ? "MATERIALIZED " : ""}VIEW ${q(v.name)};`] : [];
            return { phase: 9, finding: f, sql: [...drop, createViewSql(v)] };
        }
    }
    return { finding: f, why: "the live definition could not be read back; record it by hand" };
}

function foreignKeysOfExtraTables(input: ProposeInput, recorded: DriftFinding[]): Planned[] {
    // Foreign keys of a table the live database added come after every table exists.
    const out: Planned[] = [];
    for (const f of recorded.filter((x) => x.kind === "table" && x.change === "extra")) {
        const t = input.live.tables.find((x) => x.name === f.name);
        if (t && t.foreignKeys.length > 0) out.push({ phase: 8, finding: f, sql: t.foreignKeys.map((fk) => foreignKeySql(t.name, fk)) });
    }
    return out;
}

export function proposeFix(input: ProposeInput): Proposal {
    const renames = new Map(input.findings.filter((f) => f.kind === "table" && f.change === "renamed").map((f) => [f.name, f.liveName ?? f.name]));
    const liveTable = (name: string): string => renames.get(name) ?? name;
    const planned: Planned[] = [];
    const notRecorded: NotRecorded[] = [];
    for (const f of input.findings) {
        const p = plan(f, input, liveTable);
        if ("why" in p) notRecorded.push(p);
        else if (p.sql.some(hasInnerSemicolon)) notRecorded.push({ finding: f, why: "its SQL holds a `;` inside a statement, which Prisma's Postgres adapter would cut in two (it splits a migration on every `;`); record it by hand" });
        else planned.push(p);
    }
    planned.push(...foreignKeysOfExtraTables(input, planned.map((p) => p.finding)));
    planned.sort((a, b) => a.phase - b.phase);
    const recorded = [...new Set(planned.map((p) => p.finding))];
    const name = nextMigrationName(input.migrations, FIX_SUFFIX, input.now);
    const statements = planned.flatMap((p) => p.sql);
    const first = input.migrations[0];
    const last = input.migrations.at(-1);
    const range = first === undefined ? "no migrations" : first === last ? first : `${first} … ${last}`;
    const header = [
        `-- ${name}: written by \`npm run drift -- --propose\`${input.stack ? ` for stack ${input.stack}` : ""} on ${(input.now ?? new Date()).toISOString()}.`,
        "--",
        `-- What: records in the migrations what the live database "${input.database}" already has, so that`,
        `-- the migrations (${range}, then this one) produce the live schema again. Forward only:`,
        "-- nothing here drops a table or a column, and no data is changed.",
        "--",
        "-- Why: the live schema differed from what the migrations produce (the runbook's step",
        '-- "Create new migration fix_schema_drift to align Schema with DB": keep the data, record reality):',
        ...recorded.map((f) => `--   - ${findingLine(f)}`),
        ...(notRecorded.length > 0
            ? ["--", "-- Not recorded here (fix these in the live database or by hand; see `npm run drift`):", ...notRecorded.map((n) => `--   - ${n.finding.subject}: ${n.why}`)]
            : []),
        "--",
        "-- On the live database this migration is marked applied, not run: the Migration step of `pulumi up`",
        "-- checks first that the live schema equals what the migrations up to this one produce.",
        "-- On a database without this drift (a fresh restore, another stack) it runs like any migration.",
        DRIFT_FIX_MARKER,
    ];
    // No `;` in a comment either: Prisma's adapter splits the whole file on every `;`, comments
    // included, and the rest of such a line would be run as SQL.
    const safeHeader = header.map((l) => l.replace(/;/g, ","));
    const body = planned.map((p) => `-- ${p.finding.subject}${p.finding.liveName ? ` → ${p.finding.liveName}` : ""} (${p.finding.code})\n${p.sql.join("\n")}`);
    const sql = `${safeHeader.join("\n")}\n\n${body.join("\n\n")}\n`;
    return { name, sql, statements, recorded, notRecorded };
}
