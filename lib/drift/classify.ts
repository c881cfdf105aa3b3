/**
 * What each difference means for the api, how serious it is, and what to do about it. Pure.
 *
 * The rule the Migration step applies: an `error` is a difference that makes the api or the next
 * migrations fail or lose guarantees they rely on (a table, column, unique index, foreign key,
 * enum label or view they expect is gone or different; a column the api cannot insert without).
 * It stops the update unless the pending migrations fix it. A `warn` or `info` (a table or
 * nullable column added by hand, an extra index, a name that differs) is reported and logged,
 * never a reason to stop: the incident's host carries such a table (`audit_log`) and must still
 * be restored.
 *
 * Direction of the fix (the runbook's: keep the data, record reality): what the live database has
 * and the migrations do not (`extra`, `changed`, `renamed`) is recorded by `--propose`; what the
 * migrations have and the live database lacks (`missing`) is never proposed as a drop, since that
 * would drop data wherever the migrations run and change what the api relies on: it is restored in
 * the live database, with the migrations' own definition.
 */
import { addColumnSql, checkSql, createEnumSql, createSequenceSql, createTableSql, createViewSql, foreignKeySql, indexSql } from "./ddl";
import { describeTable, fieldOfColumn, modelOfTable, PrismaSchemaInfo } from "./prismaSchema";
import { Difference, LiveData, SchemaSnapshot, TableFacts } from "./types";

export type DriftSeverity = "error" | "warn" | "info";

export interface DriftFinding extends Difference {
    /** Stable, e.g. `DRIFT_COLUMN_EXTRA`, `DRIFT_TABLE_RENAMED`. */
    code: string;
    severity: DriftSeverity;
    /** `column users.nickname`, `index sessions_userId_idx on sessions`. */
    subject: string;
    /** What it means for the api, one sentence. */
    api: string;
    /** What a person does about it, one sentence. */
    fix: string;
    /** `record`: `--propose` writes it into a migration. `restore`: put it back in the live database. */
    direction: "record" | "restore";
    /** For `restore`: the migrations' definition of what is missing. */
    restoreSql?: string;
    /** The live data concerned (rows of an extra table, values of an extra column). */
    data?: string;
    /** Set by the Migration step's check: the pending migrations make this difference go away. */
    fixedByPending?: boolean;
}

export interface ClassifyContext {
    /** The schema the migrations produce. */
    expected: SchemaSnapshot;
    live: SchemaSnapshot;
    /** The api's schema.prisma, to name models and fields. */
    model?: PrismaSchemaInfo;
    data?: LiveData;
}

function codeOf(d: Difference): string {
    const kind = d.kind === "foreign-key" ? "FOREIGN_KEY" : d.kind.toUpperCase();
    return `DRIFT_${kind}_${d.change.toUpperCase()}`;
}

function subjectOf(d: Difference): string {
    switch (d.kind) {
        case "table":
            return `table ${d.name}`;
        case "column":
            return `column ${d.table}.${d.name}`;
        case "index":
            return `index ${d.name} on ${d.table}`;
        case "foreign-key":
            return `foreign key ${d.name} on ${d.table}`;
        case "check":
            return `check ${d.name} on ${d.table}`;
        default:
            return `${d.kind} ${d.name}`;
    }
}

const table = (s: SchemaSnapshot, name: string | undefined): TableFacts | undefined => s.tables.find((t) => t.name === name);

function count(n: number | undefined, one: string, many: string): string | undefined {
    if (n === undefined) return undefined;
    if (n < 0) return `${many} not counted (the count timed out)`;
    return `${n} ${n === 1 ? one : many}`;
}

/** The migrations' definition of a missing object, as SQL that puts it back. */
function restoreSqlOf(d: Difference, ctx: ClassifyContext): string | undefined {
    const t = table(ctx.expected, d.table ?? d.name);
    switch (d.kind) {
        case "table": {
            if (!t) return undefined;
            const seqs = ctx.expected.sequences.filter((s) => s.ownedBy?.table === t.name && !t.columns.find((c) => c.name === s.ownedBy?.column)?.identity);
            const rest = t.indexes.filter((i) => !(i.primary && i.constraint)).map((i) => indexSql(t.name, i));
            return [...seqs.map(createSequenceSql), createTableSql(t), ...rest, ...t.checks.map((c) => checkSql(t.name, c)), ...t.foreignKeys.map((f) => foreignKeySql(t.name, f))].join("\n");
        }
        case "column": {
            const c = t?.columns.find((x) => x.name === d.name);
            return t && c ? addColumnSql(t.name, c) : undefined;
        }
        case "index": {
            const ix = t?.indexes.find((x) => x.name === d.name);
            return t && ix ? indexSql(t.name, ix) : undefined;
        }
        case "foreign-key": {
            const fk = t?.foreignKeys.find((x) => x.name === d.name);
            return t && fk ? foreignKeySql(t.name, fk) : undefined;
        }
        case "check": {
            const ck = t?.checks.find((x) => x.name === d.name);
            return t && ck ? checkSql(t.name, ck) : undefined;
        }
        case "enum": {
            const e = ctx.expected.enums.find((x) => x.name === d.name);
            return e ? createEnumSql(e) : undefined;
        }
        case "sequence": {
            const s = ctx.expected.sequences.find((x) => x.name === d.name);
            return s ? createSequenceSql(s) : undefined;
        }
        case "view": {
            const v = ctx.expected.views.find((x) => x.name === d.name);
            return v ? createViewSql(v) : undefined;
        }
    }
}

interface Reading {
    severity: DriftSeverity;
    api: string;
}

function read(d: Difference, ctx: ClassifyContext): Reading {
    const m = ctx.model;
    const owner = d.table ?? d.name;
    const where = describeTable(m, owner);
    const model = m ? modelOfTable(m, owner) : undefined;
    switch (d.kind) {
        case "table": {
            if (d.change === "missing")
                return model
                    ? { severity: "error", api: `every query of model ${model.name} fails: Prisma P2021 "The table \`public.${d.name}\` does not exist in the current database."` }
                    : { severity: "error", api: `the migrations create table ${d.name} and later migrations may use it; no model of schema.prisma maps to it, so the api itself does not query it` };
            if (d.change === "renamed")
                return model
                    ? { severity: "error", api: `model ${model.name} expects table ${d.name}; the live database has it as ${d.liveName}: every query of ${model.name} fails with Prisma P2021 (the incident's crash loop)` }
                    : { severity: "error", api: `the migrations know it as ${d.name}; migrations that use that name will fail on the live database` };
            const mapped = m ? modelOfTable(m, d.name) : undefined;
            return mapped
                ? { severity: "warn", api: `model ${mapped.name} maps to it, but no migration creates it: a database built by the migrations (a fresh restore) would not have it` }
                : { severity: "warn", api: "no migration creates it and no model uses it: the api does not see it, nothing fails" };
        }
        case "column": {
            const field = fieldOfColumn(m ?? { models: [], enums: [] }, owner, d.name);
            if (d.change === "missing")
                return field
                    ? { severity: "error", api: `every query of ${field.split(".")[0]} reads ${field}: it fails with Prisma P2022 "The column \`${owner}.${d.name}\` does not exist in the current database."` }
                    : { severity: "error", api: `the migrations have it; no field of ${where} uses it, but migrations that do will fail` };
            if (d.change === "extra") {
                const col = table(ctx.live, owner)?.columns.find((c) => c.name === d.name);
                const required = col !== undefined && col.notNull && col.default === undefined && !col.identity && !col.generated;
                if (required)
                    return { severity: "error", api: `it is NOT NULL without a default and the api does not write it: every row the api inserts into ${owner} fails (23502 null value in column "${d.name}")` };
                return field
                    ? { severity: "warn", api: `schema.prisma has it as ${field}, but no migration creates it: a database built by the migrations would not have it` }
                    : { severity: "warn", api: `no field of ${where} maps to it: the api neither reads nor writes it, nothing fails` };
            }
            const aspects = d.aspects ?? [];
            const name = field ?? `${owner}.${d.name}`;
            if (aspects.includes("type")) return { severity: "error", api: `${name} has another type live (${d.detail}): the api's reads and writes can fail or be cut (Prisma P2023/P2032, 22001 value too long)` };
            if (aspects.includes("nullability")) {
                const nowNullable = /nullability: NOT NULL → NULL/.test(d.detail);
                return nowNullable
                    ? { severity: "error", api: `${name} may hold NULL live; the model reads it as required, so a row with NULL fails to load (Prisma P2032)` }
                    : { severity: "error", api: `${name} is NOT NULL live but optional in the migrations: the api's writes without it fail (23502)` };
            }
            if (aspects.includes("default")) {
                const col = table(ctx.live, owner)?.columns.find((c) => c.name === d.name);
                const lost = /default: [^;]+ → none/.test(d.detail);
                if (lost && col?.notNull) return { severity: "error", api: `${name} lost its default live and is NOT NULL: rows the api inserts without a value fail (23502)` };
                return { severity: "warn", api: `${name} has another default live (${d.detail}): rows inserted without a value get a different one` };
            }
            return { severity: "warn", api: `${name} differs live (${d.detail}): values are generated, sorted or compared differently` };
        }
        case "index": {
            const ix = (d.change === "extra" ? table(ctx.live, owner) : table(ctx.expected, owner))?.indexes.find((i) => i.name === d.name);
            const unique = ix?.unique === true;
            const columns = ix?.columns.join(", ") ?? "its columns";
            if (d.change === "missing")
                return unique
                    ? { severity: "error", api: `${columns} of ${where} are no longer guaranteed unique: duplicates can be written, and the api's lookups by a unique field (Prisma @unique/@id) can match several rows` }
                    : { severity: "warn", api: `queries of ${where} by ${columns} get slower; nothing fails` };
            if (d.change === "extra")
                return unique
                    ? { severity: "warn", api: `the live database refuses duplicates of ${columns} that the migrations allow: such writes of the api fail with Prisma P2002` }
                    : { severity: "info", api: "an index the migrations do not have: reads may get faster, nothing fails" };
            if (d.change === "renamed") return { severity: "info", api: `only the name differs; nothing fails, but a later migration that names ${d.name} fails on the live database` };
            const expectedIx = table(ctx.expected, owner)?.indexes.find((i) => i.name === d.name);
            const liveIx = table(ctx.live, owner)?.indexes.find((i) => i.name === d.name);
            if (expectedIx?.unique && !liveIx?.unique) return { severity: "error", api: `${expectedIx.columns.join(", ")} of ${where} are no longer guaranteed unique (${d.detail})` };
            return { severity: "warn", api: `the index is defined differently live (${d.detail})` };
        }
        case "foreign-key": {
            if (d.change === "missing") return { severity: "error", api: `rows of ${where} can point at rows that do not exist, and the relation's ON DELETE/ON UPDATE actions no longer happen (${d.detail})` };
            if (d.change === "extra") return { severity: "warn", api: `the live database refuses writes the migrations allow: the api's writes can fail with Prisma P2003 (${d.detail})` };
            if (d.change === "renamed") return { severity: "info", api: `only the name differs; a later migration that names ${d.name} fails on the live database` };
            return { severity: "error", api: `the relation behaves differently live (${d.detail})` };
        }
        case "check": {
            if (d.change === "missing") return { severity: "warn", api: `values the migrations refuse can be written into ${where} (${d.detail})` };
            if (d.change === "extra") return { severity: "warn", api: `the live database refuses values the migrations allow: such writes fail (23514) (${d.detail})` };
            if (d.change === "renamed") return { severity: "info", api: `only the name differs; a later migration that names ${d.name} fails on the live database` };
            return { severity: "warn", api: `the check is defined differently live (${d.detail})` };
        }
        case "enum": {
            if (d.change === "missing") return { severity: "error", api: `columns of type ${d.name} cannot hold what the api writes: writes fail (22P02)` };
            if (d.change === "extra") return { severity: "info", api: "a type the migrations do not have: nothing fails" };
            const [before, after] = d.detail.split(" → ").map((s) => s.split(", "));
            const lost = before.filter((x) => !after.includes(x));
            return lost.length > 0
                ? { severity: "error", api: `the live database refuses ${lost.join(", ")}, which the api may write: such writes fail (22P02)` }
                : { severity: "warn", api: `the live database has labels the migrations do not (${d.detail}): the api cannot read a row holding one (Prisma P2023)` };
        }
        case "sequence":
            if (d.change === "missing") return { severity: "error", api: "defaults and migrations that use it fail" };
            if (d.change === "extra") return { severity: "info", api: "a sequence the migrations do not have: nothing fails" };
            return { severity: "warn", api: `numbers are generated differently (${d.detail})` };
        case "view":
            if (d.change === "missing") return { severity: "error", api: "queries of the view fail (42P01)" };
            if (d.change === "extra") return { severity: "info", api: "a view the migrations do not have: nothing fails" };
            return { severity: "warn", api: "the view returns something else than the migrations define" };
    }
}

/** What in the migrations' schema depends on a column the live database lacks (why it must be restored, not dropped). */
function dependentsOf(d: Difference, ctx: ClassifyContext): string | undefined {
    const uses: string[] = [];
    for (const t of ctx.expected.tables) {
        for (const ix of t.indexes) if (t.name === d.table && ix.columns.includes(d.name)) uses.push(`index ${ix.name}`);
        for (const fk of t.foreignKeys) {
            if ((t.name === d.table && fk.columns.includes(d.name)) || (fk.refTable === d.table && fk.refColumns.includes(d.name))) uses.push(`foreign key ${fk.name}`);
        }
    }
    for (const v of ctx.expected.views) if (new RegExp(`\\b${d.name}\\b`).test(v.definition)) uses.push(`view ${v.name}`);
    return uses.length > 0 ? `the migrations' ${[...new Set(uses)].join(", ")} use${uses.length === 1 ? "s" : ""} it` : undefined;
}

function dataOf(d: Difference, ctx: ClassifyContext): string | undefined {
    if (d.kind === "column" && d.change === "missing") return dependentsOf(d, ctx);
    const data = ctx.data;
    if (!data) return undefined;
    if (d.kind === "table") return count(data.tableRows[d.liveName ?? d.name], "row", "rows");
    if (d.kind === "column" && d.change !== "missing") return count(data.columnValues[`${d.table}.${d.name}`], "non-null value", "non-null values");
    return undefined;
}

export function classify(d: Difference, ctx: ClassifyContext): DriftFinding {
    const { severity, api } = read(d, ctx);
    const direction = d.change === "missing" ? "restore" : "record";
    const restoreSql = direction === "restore" ? restoreSqlOf(d, ctx) : undefined;
    const data = dataOf(d, ctx);
    const fix =
        direction === "restore"
            ? `restore it in the live database with the migrations' definition${restoreSql ? `: ${restoreSql.split("\n").length > 1 ? "the SQL below" : restoreSql}` : ""} (its data is in the newest backup: \`npm run backups\`); never record it as a drop`
            : `record it in the migrations: \`npm run drift -- --propose\` writes a fix_schema_drift migration (and the matching schema.prisma lines); review and commit it${d.change === "extra" && data && !/^0 /.test(data) ? `; do not drop it by hand, it holds ${data}` : ""}`;
    return { ...d, code: codeOf(d), severity, subject: subjectOf(d), api, fix, direction, ...(restoreSql ? { restoreSql } : {}), ...(data ? { data } : {}) };
}

const RANK: Record<DriftSeverity, number> = { error: 0, warn: 1, info: 2 };

/** Every difference classified, most serious first (the diff's order within a severity). */
export function classifyAll(diffs: Difference[], ctx: ClassifyContext): DriftFinding[] {
    return diffs
        .map((d, i) => ({ f: classify(d, ctx), i }))
        .sort((a, b) => RANK[a.f.severity] - RANK[b.f.severity] || a.i - b.i)
        .map((x) => x.f);
}

/** One line per finding: `error DRIFT_COLUMN_EXTRA column users.age: int NOT NULL: …`. */
export function findingLine(f: DriftFinding): string {
    const rename = f.liveName ? ` (live: ${f.liveName})` : "";
    return `${f.severity} ${f.code} ${f.subject}${rename}: ${f.detail}${f.data ? ` [${f.data}]` : ""}${f.fixedByPending ? " (the pending migrations fix it)" : ""}`;
}
