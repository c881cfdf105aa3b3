/**
 * SQL that creates or changes one catalogued object, written from its facts (lib/drift/types.ts):
 * the proposal records what the live database has, and a finding about something missing gives
 * the migrations' definition to restore it. Names are always quoted and never schema-qualified,
 * like Prisma's own migrations, so the SQL works under any `?schema=`.
 *
 * Every statement is one line-group ending in `;` with no `;` inside: Prisma 6.19.3's Postgres
 * driver adapter runs a migration by splitting its text on every `;`
 * (@prisma/adapter-pg 6.19.3, dist/index.js `executeScript`), so a `;` inside a statement would
 * cut it in two. `hasInnerSemicolon` lets the proposal refuse such a statement instead.
 */
import { quoteIdent, sqlString } from "./catalog";
import { CheckFacts, ColumnFacts, EnumFacts, ForeignKeyFacts, IndexFacts, SequenceFacts, TableFacts, ViewFacts } from "./types";

const q = quoteIdent;

export function columnDdl(c: ColumnFacts): string {
    const parts = [q(c.name), c.type];
    if (c.collation) parts.push(`COLLATE ${q(c.collation)}`);
    if (c.generated) parts.push(`GENERATED ALWAYS AS (${c.generated.replace(/^\((.*)\)$/s, "$1")}) STORED`);
    else if (c.identity) parts.push(`GENERATED ${c.identity.toUpperCase()} AS IDENTITY`);
    else if (c.default !== undefined) parts.push(`DEFAULT ${c.default}`);
    if (c.notNull) parts.push("NOT NULL");
    return parts.join(" ");
}

/** The sequence a `serial` default names, created before the column that uses it. */
export function createSequenceSql(s: SequenceFacts): string {
    return `CREATE SEQUENCE ${q(s.name)} AS ${s.type} START WITH ${s.start} INCREMENT BY ${s.increment} MINVALUE ${s.min} MAXVALUE ${s.max}${s.cycle ? " CYCLE" : ""};`;
}

export function ownSequenceSql(s: SequenceFacts): string | undefined {
    return s.ownedBy ? `ALTER SEQUENCE ${q(s.name)} OWNED BY ${q(s.ownedBy.table)}.${q(s.ownedBy.column)};` : undefined;
}

export function alterSequenceSql(s: SequenceFacts): string {
    return `ALTER SEQUENCE ${q(s.name)} AS ${s.type} INCREMENT BY ${s.increment} MINVALUE ${s.min} MAXVALUE ${s.max} START WITH ${s.start}${s.cycle ? " CYCLE" : " NO CYCLE"};`;
}

const cols = (names: string[]): string => names.map(q).join(", ");

/** An index as its own statement, or the constraint it implements. */
export function indexSql(table: string, ix: IndexFacts): string {
    if (ix.constraint && ix.primary) return `ALTER TABLE ${q(table)} ADD CONSTRAINT ${q(ix.constraint)} PRIMARY KEY (${cols(ix.columns)});`;
    if (ix.constraint && ix.unique) return `ALTER TABLE ${q(table)} ADD CONSTRAINT ${q(ix.constraint)} UNIQUE (${cols(ix.columns)});`;
    // pg_get_indexdef qualifies the table (`ON public.users`); drop the schema, keep the rest as the server wrote it.
    return `${ix.definition.replace(/ ON (ONLY )?(?:"(?:[^"]|"")+"|[^\s."]+)\./, " ON $1")};`;
}

export function dropIndexSql(table: string, ix: IndexFacts): string {
    return ix.constraint ? `ALTER TABLE ${q(table)} DROP CONSTRAINT ${q(ix.constraint)};` : `DROP INDEX ${q(ix.name)};`;
}

export function foreignKeySql(table: string, fk: ForeignKeyFacts): string {
    const deferral = fk.deferrable ? (fk.deferred ? " DEFERRABLE INITIALLY DEFERRED" : " DEFERRABLE") : "";
    return `ALTER TABLE ${q(table)} ADD CONSTRAINT ${q(fk.name)} FOREIGN KEY (${cols(fk.columns)}) REFERENCES ${q(fk.refTable)}(${cols(fk.refColumns)}) ON DELETE ${fk.onDelete} ON UPDATE ${fk.onUpdate}${deferral};`;
}

export function checkSql(table: string, ck: CheckFacts): string {
    return `ALTER TABLE ${q(table)} ADD CONSTRAINT ${q(ck.name)} ${ck.definition};`;
}

export function renameConstraintSql(table: string, from: string, to: string): string {
    return `ALTER TABLE ${q(table)} RENAME CONSTRAINT ${q(from)} TO ${q(to)};`;
}

/** A table with its columns and primary key; its other indexes and constraints are separate statements. */
export function createTableSql(t: TableFacts): string {
    const lines = t.columns.map((c) => `    ${columnDdl(c)}`);
    const pk = t.indexes.find((i) => i.primary && i.constraint);
    if (pk) lines.push(`    CONSTRAINT ${q(pk.constraint ?? pk.name)} PRIMARY KEY (${cols(pk.columns)})`);
    return `CREATE TABLE ${q(t.name)} (\n${lines.join(",\n")}\n);`;
}

export function addColumnSql(table: string, c: ColumnFacts): string {
    return `ALTER TABLE ${q(table)} ADD COLUMN ${columnDdl(c)};`;
}

export function createEnumSql(e: EnumFacts): string {
    return `CREATE TYPE ${q(e.name)} AS ENUM (${e.labels.map(sqlString).join(", ")});`;
}

export function createViewSql(v: ViewFacts): string {
    return `CREATE ${v.materialized ? "MATERIALIZED " : ""}VIEW ${q(v.name)} AS\n${v.definition.trim().replace(/;\s*$/, "")};`;
}

/** Whether a statement has a `;` before its end (see the module comment). */
export function hasInnerSemicolon(statement: string): boolean {
    return statement.trim().replace(/;\s*$/, "").includes(";");
}
