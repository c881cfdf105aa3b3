/**
 * One database schema as PostgreSQL's catalogs describe it (lib/drift/catalog.ts reads it), and
 * the differences between two of them. Plain data: the pure core (normalise, diff, classify,
 * propose) works on these and nothing else.
 */

export interface ColumnFacts {
    name: string;
    /** `format_type(atttypid, atttypmod)`: `text`, `timestamp(3) without time zone`, `character varying(40)`. */
    type: string;
    notNull: boolean;
    /** `pg_get_expr(adbin, adrelid)`: the server's own rendering of the default. */
    default?: string;
    identity?: "always" | "by default";
    /** The expression of a stored generated column. */
    generated?: string;
    /** Only when it is not the type's default collation. */
    collation?: string;
}

export interface IndexFacts {
    name: string;
    unique: boolean;
    primary: boolean;
    /** The PRIMARY KEY, UNIQUE or EXCLUDE constraint this index implements, by name. */
    constraint?: string;
    /** `pg_get_indexdef`: `CREATE UNIQUE INDEX users_email_key ON public.users USING btree (email)`. */
    definition: string;
    /** The indexed columns by name (expressions are not columns: they stay in `definition`). */
    columns: string[];
}

export interface ForeignKeyFacts {
    name: string;
    columns: string[];
    refTable: string;
    refColumns: string[];
    /** `NO ACTION`, `RESTRICT`, `CASCADE`, `SET NULL`, `SET DEFAULT`. */
    onUpdate: string;
    onDelete: string;
    deferrable: boolean;
    deferred: boolean;
}

export interface CheckFacts {
    name: string;
    /** `pg_get_constraintdef`: `CHECK ((length(email) > 3))`. */
    definition: string;
}

export interface TableFacts {
    name: string;
    columns: ColumnFacts[];
    indexes: IndexFacts[];
    foreignKeys: ForeignKeyFacts[];
    checks: CheckFacts[];
}

export interface EnumFacts {
    name: string;
    /** In the enum's sort order. */
    labels: string[];
}

export interface SequenceFacts {
    name: string;
    type: string;
    start: string;
    increment: string;
    min: string;
    max: string;
    cycle: boolean;
    /** The column a `serial` or identity column made this sequence for. */
    ownedBy?: { table: string; column: string };
}

export interface ViewFacts {
    name: string;
    materialized: boolean;
    /** `pg_get_viewdef(oid, true)`. */
    definition: string;
}

export interface SchemaSnapshot {
    /** The PostgreSQL schema read, `public` for the platform. */
    schema: string;
    tables: TableFacts[];
    enums: EnumFacts[];
    sequences: SequenceFacts[];
    views: ViewFacts[];
}

/** What a difference is about. */
export type ObjectKind = "table" | "column" | "index" | "foreign-key" | "check" | "enum" | "sequence" | "view";

/**
 * `missing`: the migrations have it, the live database does not. `extra`: the live database has
 * it, the migrations do not. `changed`: both have it, differently (`aspects` say how). `renamed`:
 * the same thing under another name (a table with the same columns, an index with the same
 * definition).
 */
export type Change = "missing" | "extra" | "changed" | "renamed";

export type Aspect = "type" | "nullability" | "default" | "identity" | "generated" | "collation" | "definition" | "labels" | "options";

export interface Difference {
    kind: ObjectKind;
    change: Change;
    /** The table a column, index, foreign key or check belongs to. */
    table?: string;
    /** The object's name in the migrations' schema (for `extra`: in the live one). */
    name: string;
    /** For `renamed`: its name in the live database. */
    liveName?: string;
    aspects?: Aspect[];
    /** `expected → live` per aspect, e.g. `type: text → integer`. */
    detail: string;
}

/** Facts about the live data a classification needs (read-only counts, taken after the diff). */
export interface LiveData {
    /** Rows per live table named in a difference. */
    tableRows: Record<string, number>;
    /** Non-null values per `table.column` named in a difference. */
    columnValues: Record<string, number>;
}
