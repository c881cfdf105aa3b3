/**
 * Reading a schema from PostgreSQL's own catalogs (pg_class, pg_attribute, pg_index,
 * pg_constraint, pg_type/pg_enum, pg_sequence, pg_depend) in one query that returns JSON, so no
 * value ever needs psql-level quoting. The server renders types, defaults, index and constraint
 * definitions itself (format_type, pg_get_expr, pg_get_indexdef, pg_get_constraintdef,
 * pg_get_viewdef): two databases on the same server render the same thing the same way.
 * Prisma's own history table is not part of the app's schema and is left out.
 */
import { HISTORY_TABLE } from "../migration/plan";
import { CheckFacts, ColumnFacts, EnumFacts, ForeignKeyFacts, IndexFacts, SchemaSnapshot, SequenceFacts, TableFacts, ViewFacts } from "./types";

/** A PostgreSQL string literal. */
export function sqlString(value: string): string {
    return `'${value.replace(/'/g, "''")}'`;
}

/** A PostgreSQL identifier, always quoted (`"User"`, `"passwordHash"`). */
export function quoteIdent(name: string): string {
    return `"${name.replace(/"/g, '""')}"`;
}

const ACTIONS: Record<string, string> = { a: "NO ACTION", r: "RESTRICT", c: "CASCADE", n: "SET NULL", d: "SET DEFAULT" };

/** The query; its single row is one JSON document (psql `-At` prints it on one line). */
export function catalogQuery(schema: string = "public"): string {
    const ns = `(SELECT oid FROM pg_namespace WHERE nspname = ${sqlString(schema)})`;
    return `
SELECT json_build_object(
  'schema', ${sqlString(schema)},
  'tables', (SELECT coalesce(json_agg(json_build_object(
      'name', c.relname,
      'columns', (SELECT coalesce(json_agg(json_build_object(
            'name', a.attname,
            'type', format_type(a.atttypid, a.atttypmod),
            'notNull', a.attnotnull,
            'default', CASE WHEN a.attgenerated = '' THEN pg_get_expr(d.adbin, d.adrelid) END,
            'generated', CASE WHEN a.attgenerated <> '' THEN pg_get_expr(d.adbin, d.adrelid) END,
            'identity', a.attidentity,
            'collation', CASE WHEN a.attcollation <> t.typcollation THEN (SELECT collname FROM pg_collation WHERE oid = a.attcollation) END
          ) ORDER BY a.attname), '[]'::json)
          FROM pg_attribute a
          JOIN pg_type t ON t.oid = a.atttypid
          LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
          WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped),
      'indexes', (SELECT coalesce(json_agg(json_build_object(
            'name', ic.relname,
            'unique', i.indisunique,
            'primary', i.indisprimary,
            'constraint', (SELECT conname FROM pg_constraint WHERE conindid = i.indexrelid AND conrelid = c.oid AND contype IN ('p', 'u', 'x') LIMIT 1),
            'definition', pg_get_indexdef(i.indexrelid),
            'columns', (SELECT coalesce(json_agg(att.attname ORDER BY k.ord), '[]'::json)
                          FROM unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)
                          JOIN pg_attribute att ON att.attrelid = c.oid AND att.attnum = k.attnum
                         WHERE k.attnum > 0)
          ) ORDER BY ic.relname), '[]'::json)
          FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
          WHERE i.indrelid = c.oid),
      'foreignKeys', (SELECT coalesce(json_agg(json_build_object(
            'name', fk.conname,
            'columns', (SELECT json_agg(att.attname ORDER BY k.ord) FROM unnest(fk.conkey) WITH ORDINALITY AS k(attnum, ord)
                          JOIN pg_attribute att ON att.attrelid = fk.conrelid AND att.attnum = k.attnum),
            'refTable', (SELECT relname FROM pg_class WHERE oid = fk.confrelid),
            'refColumns', (SELECT json_agg(att.attname ORDER BY k.ord) FROM unnest(fk.confkey) WITH ORDINALITY AS k(attnum, ord)
                          JOIN pg_attribute att ON att.attrelid = fk.confrelid AND att.attnum = k.attnum),
            'onUpdate', fk.confupdtype,
            'onDelete', fk.confdeltype,
            'deferrable', fk.condeferrable,
            'deferred', fk.condeferred
          ) ORDER BY fk.conname), '[]'::json)
          FROM pg_constraint fk WHERE fk.conrelid = c.oid AND fk.contype = 'f'),
      'checks', (SELECT coalesce(json_agg(json_build_object('name', ck.conname, 'definition', pg_get_constraintdef(ck.oid)) ORDER BY ck.conname), '[]'::json)
          FROM pg_constraint ck WHERE ck.conrelid = c.oid AND ck.contype = 'c')
    ) ORDER BY c.relname), '[]'::json)
    FROM pg_class c
    WHERE c.relnamespace = ${ns} AND c.relkind IN ('r', 'p') AND NOT c.relispartition AND c.relname <> ${sqlString(HISTORY_TABLE)}),
  'enums', (SELECT coalesce(json_agg(json_build_object(
      'name', t.typname,
      'labels', (SELECT json_agg(e.enumlabel ORDER BY e.enumsortorder) FROM pg_enum e WHERE e.enumtypid = t.oid)
    ) ORDER BY t.typname), '[]'::json)
    FROM pg_type t WHERE t.typnamespace = ${ns} AND t.typtype = 'e'),
  'sequences', (SELECT coalesce(json_agg(json_build_object(
      'name', c.relname,
      'type', format_type(s.seqtypid, NULL),
      'start', s.seqstart::text,
      'increment', s.seqincrement::text,
      'min', s.seqmin::text,
      'max', s.seqmax::text,
      'cycle', s.seqcycle,
      'ownedTable', (SELECT oc.relname FROM pg_depend dep JOIN pg_class oc ON oc.oid = dep.refobjid
                      WHERE dep.classid = 'pg_class'::regclass AND dep.objid = c.oid AND dep.refclassid = 'pg_class'::regclass AND dep.deptype IN ('a', 'i') AND dep.refobjsubid > 0 LIMIT 1),
      'ownedColumn', (SELECT att.attname FROM pg_depend dep JOIN pg_attribute att ON att.attrelid = dep.refobjid AND att.attnum = dep.refobjsubid
                      WHERE dep.classid = 'pg_class'::regclass AND dep.objid = c.oid AND dep.refclassid = 'pg_class'::regclass AND dep.deptype IN ('a', 'i') AND dep.refobjsubid > 0 LIMIT 1)
    ) ORDER BY c.relname), '[]'::json)
    FROM pg_class c JOIN pg_sequence s ON s.seqrelid = c.oid
    WHERE c.relnamespace = ${ns} AND c.relkind = 'S'),
  'views', (SELECT coalesce(json_agg(json_build_object(
      'name', c.relname,
      'materialized', c.relkind = 'm',
      'definition', pg_get_viewdef(c.oid, true)
    ) ORDER BY c.relname), '[]'::json)
    FROM pg_class c WHERE c.relnamespace = ${ns} AND c.relkind IN ('v', 'm'))
)::text;
`;
}

type Raw = Record<string, unknown>;

function str(v: unknown, what: string): string {
    if (typeof v !== "string") throw new Error(`catalog: ${what} is not a string`);
    return v;
}

function opt(v: unknown): string | undefined {
    return typeof v === "string" && v !== "" ? v : undefined;
}

function list(v: unknown): Raw[] {
    return Array.isArray(v) ? (v as Raw[]) : [];
}

function names(v: unknown): string[] {
    return Array.isArray(v) ? v.map((x) => String(x)) : [];
}

/** Parses the query's output (the JSON line psql printed). */
export function parseCatalog(output: string): SchemaSnapshot {
    const line = output.split(/\r?\n/).find((l) => l.trim().startsWith("{"));
    if (!line) throw new Error(`catalog: no JSON in the query's output (${output.trim().slice(0, 200) || "empty"})`);
    const doc = JSON.parse(line) as Raw;
    const tables: TableFacts[] = list(doc.tables).map((t) => ({
        name: str(t.name, "table name"),
        columns: list(t.columns).map(
            (c): ColumnFacts => ({
                name: str(c.name, "column name"),
                type: str(c.type, "column type"),
                notNull: c.notNull === true,
                ...(opt(c.default) ? { default: opt(c.default) } : {}),
                ...(opt(c.generated) ? { generated: opt(c.generated) } : {}),
                ...(c.identity === "a" ? { identity: "always" as const } : c.identity === "d" ? { identity: "by default" as const } : {}),
                ...(opt(c.collation) ? { collation: opt(c.collation) } : {}),
            }),
        ),
        indexes: list(t.indexes).map(
            (i): IndexFacts => ({
                name: str(i.name, "index name"),
                unique: i.unique === true,
                primary: i.primary === true,
                ...(opt(i.constraint) ? { constraint: opt(i.constraint) } : {}),
                definition: str(i.definition, "index definition"),
                columns: names(i.columns),
            }),
        ),
        foreignKeys: list(t.foreignKeys).map(
            (f): ForeignKeyFacts => ({
                name: str(f.name, "foreign key name"),
                columns: names(f.columns),
                refTable: str(f.refTable, "referenced table"),
                refColumns: names(f.refColumns),
                onUpdate: ACTIONS[String(f.onUpdate)] ?? String(f.onUpdate),
                onDelete: ACTIONS[String(f.onDelete)] ?? String(f.onDelete),
                deferrable: f.deferrable === true,
                deferred: f.deferred === true,
            }),
        ),
        checks: list(t.checks).map((k): CheckFacts => ({ name: str(k.name, "check name"), definition: str(k.definition, "check definition") })),
    }));
    const enums: EnumFacts[] = list(doc.enums).map((e) => ({ name: str(e.name, "enum name"), labels: names(e.labels) }));
    const sequences: SequenceFacts[] = list(doc.sequences).map((s) => ({
        name: str(s.name, "sequence name"),
        type: str(s.type, "sequence type"),
        start: String(s.start),
        increment: String(s.increment),
        min: String(s.min),
        max: String(s.max),
        cycle: s.cycle === true,
        ...(opt(s.ownedTable) && opt(s.ownedColumn) ? { ownedBy: { table: String(s.ownedTable), column: String(s.ownedColumn) } } : {}),
    }));
    const views: ViewFacts[] = list(doc.views).map((v) => ({ name: str(v.name, "view name"), materialized: v.materialized === true, definition: str(v.definition, "view definition") }));
    return { schema: typeof doc.schema === "string" ? doc.schema : "public", tables, enums, sequences, views };
}

/** Runs the query through any psql runner (`-At` output) and parses it. */
export async function readSchema(psql: (sql: string) => Promise<string>, schema: string = "public"): Promise<SchemaSnapshot> {
    return parseCatalog(await psql(catalogQuery(schema)));
}
