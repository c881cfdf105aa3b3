/**
 * What makes two schemas "the same" for the platform: the forms PostgreSQL stores for equivalent
 * things are brought to one, and names the server makes up are not what things are matched by.
 * A database built by the migrations and one built by hand the same way must compare equal.
 *
 * - Defaults: `now()`, `transaction_timestamp()` and `CURRENT_TIMESTAMP` are the same function
 *   (PostgreSQL 15 docs, "Current Date/Time": "now() is a traditional PostgreSQL equivalent to
 *   transaction_timestamp()", which is "equivalent to CURRENT_TIMESTAMP"); a `serial`'s
 *   `nextval('users_id_seq'::regclass)` names a sequence the server named after the table it was
 *   created for, so it is compared as "the sequence this column owns".
 * - Indexes, foreign keys and checks are matched by what they do (their shape), their names
 *   second: a name-only difference is a rename, never a missing-plus-extra pair.
 * - Order is never significant: columns, indexes and constraints are compared as sets (column
 *   order is PostgreSQL's attnum, which an `ADD COLUMN` by hand and a migration can give differently).
 * - Whitespace in view definitions and check expressions is collapsed.
 */
import { ColumnFacts, ForeignKeyFacts, IndexFacts, SchemaSnapshot, SequenceFacts, TableFacts } from "./types";

const NOW_FORMS = /^(now\(\)|transaction_timestamp\(\)|CURRENT_TIMESTAMP)$/i;
const NEXTVAL = /^nextval\('((?:[^']|'')+)'::regclass\)$/;

/** A column default in the form compared; `serialOf` says which sequence, if any, the column owns. */
export function normaliseDefault(expr: string | undefined, ownedSequence?: string): string | undefined {
    if (expr === undefined) return undefined;
    const e = expr.trim();
    if (NOW_FORMS.test(e)) return "CURRENT_TIMESTAMP";
    const m = NEXTVAL.exec(e);
    if (m && ownedSequence !== undefined) {
        // The regclass literal may be schema-qualified or quoted: `'public."User_id_seq"'`.
        const seq = m[1].replace(/''/g, "'").replace(/^(?:"(?:[^"]|"")+"|[^."]+)\./, "").replace(/^"(.*)"$/, "$1").replace(/""/g, '"');
        if (seq === ownedSequence) return "nextval(<the sequence this column owns>)";
    }
    return e;
}

export function collapse(text: string): string {
    return text.replace(/\s+/g, " ").trim();
}

/** `CREATE UNIQUE INDEX x ON public.t USING btree (a, b) WHERE …` → `UNIQUE btree (a, b) WHERE …` (plus PRIMARY). */
export function indexShape(ix: IndexFacts): string {
    const m = /^CREATE (UNIQUE )?INDEX (?:"(?:[^"]|"")+"|\S+) ON (?:ONLY )?(?:(?:"(?:[^"]|"")+"|[^\s."]+)\.)?(?:"(?:[^"]|"")+"|\S+) USING (.*)$/s.exec(ix.definition);
    const rest = m ? collapse(m[2]) : collapse(ix.definition);
    return `${ix.primary ? "PRIMARY " : ""}${ix.unique ? "UNIQUE " : ""}${rest}`;
}

/** What a foreign key does, with the referenced table seen through `tableName` (renames). */
export function foreignKeyShape(fk: ForeignKeyFacts, tableName: (t: string) => string = (t) => t): string {
    const deferral = fk.deferrable ? (fk.deferred ? " DEFERRABLE INITIALLY DEFERRED" : " DEFERRABLE") : "";
    return `(${fk.columns.join(", ")}) REFERENCES ${tableName(fk.refTable)}(${fk.refColumns.join(", ")}) ON UPDATE ${fk.onUpdate} ON DELETE ${fk.onDelete}${deferral}`;
}

/** The sequence a column owns (a `serial` or identity column), by the owner recorded in pg_depend. */
export function ownedSequenceOf(snapshot: SchemaSnapshot, table: string, column: string): SequenceFacts | undefined {
    return snapshot.sequences.find((s) => s.ownedBy?.table === table && s.ownedBy.column === column);
}

/** A column as compared (name aside). */
export interface ColumnShape {
    type: string;
    notNull: boolean;
    default?: string;
    identity?: string;
    generated?: string;
    collation?: string;
}

export function columnShape(snapshot: SchemaSnapshot, table: TableFacts, c: ColumnFacts): ColumnShape {
    const owned = ownedSequenceOf(snapshot, table.name, c.name);
    return {
        type: c.type,
        notNull: c.notNull,
        // An identity column's default is its sequence; the identity itself is what is compared.
        default: c.identity ? undefined : normaliseDefault(c.default, owned?.name),
        identity: c.identity,
        generated: c.generated === undefined ? undefined : collapse(c.generated),
        collation: c.collation,
    };
}

/** A sequence's options as compared (its name and owner aside). */
export function sequenceShape(s: SequenceFacts): string {
    return `${s.type} START ${s.start} INCREMENT ${s.increment} MIN ${s.min} MAX ${s.max}${s.cycle ? " CYCLE" : ""}`;
}

/** The key a table is recognised by when its name differs: its columns' names, types and nullability. */
export function tableSignature(table: TableFacts): string {
    return table.columns
        .map((c) => `${c.name} ${c.type}${c.notNull ? " NOT NULL" : ""}`)
        .sort()
        .join(", ");
}
