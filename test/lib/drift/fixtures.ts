/**
 * Schemas as lib/drift/catalog.ts reads them from PostgreSQL 15, for the pure core's tests: the
 * sample's two migrations (v41_baseline + v42_add_sessions) in the form the server renders them
 * (the forms were read from a real PostgreSQL 15 by test/real/drift/drift.test.ts's catalog).
 */
import { ColumnFacts, SchemaSnapshot, TableFacts } from "../../../lib/drift/types";

export const col = (name: string, type: string, notNull = true, extra: Partial<ColumnFacts> = {}): ColumnFacts => ({ name, type, notNull, ...extra });

export function usersTable(name = "users"): TableFacts {
    return {
        name,
        columns: [
            col("createdAt", "timestamp(3) without time zone", true, { default: "CURRENT_TIMESTAMP" }),
            col("email", "text"),
            col("id", "text"),
            col("passwordHash", "text"),
            col("role", "text", true, { default: "'user'::text" }),
        ],
        indexes: [
            { name: "users_email_key", unique: true, primary: false, definition: `CREATE UNIQUE INDEX users_email_key ON public.${name === "users" ? "users" : `"${name}"`} USING btree (email)`, columns: ["email"] },
            { name: "users_pkey", unique: true, primary: true, constraint: "users_pkey", definition: `CREATE UNIQUE INDEX users_pkey ON public.${name === "users" ? "users" : `"${name}"`} USING btree (id)`, columns: ["id"] },
        ],
        foreignKeys: [],
        checks: [],
    };
}

export function sessionsTable(usersName = "users"): TableFacts {
    return {
        name: "sessions",
        columns: [
            col("createdAt", "timestamp(3) without time zone", true, { default: "CURRENT_TIMESTAMP" }),
            col("expiresAt", "timestamp(3) without time zone"),
            col("id", "text"),
            col("tokenHash", "text"),
            col("userId", "text"),
        ],
        indexes: [
            { name: "sessions_pkey", unique: true, primary: true, constraint: "sessions_pkey", definition: "CREATE UNIQUE INDEX sessions_pkey ON public.sessions USING btree (id)", columns: ["id"] },
            { name: "sessions_tokenHash_key", unique: true, primary: false, definition: 'CREATE UNIQUE INDEX "sessions_tokenHash_key" ON public.sessions USING btree ("tokenHash")', columns: ["tokenHash"] },
            { name: "sessions_userId_idx", unique: false, primary: false, definition: 'CREATE INDEX "sessions_userId_idx" ON public.sessions USING btree ("userId")', columns: ["userId"] },
        ],
        foreignKeys: [{ name: "sessions_userId_fkey", columns: ["userId"], refTable: usersName, refColumns: ["id"], onUpdate: "CASCADE", onDelete: "CASCADE", deferrable: false, deferred: false }],
        checks: [],
    };
}

/** What the sample's migrations produce. */
export function sample(): SchemaSnapshot {
    return { schema: "public", tables: [sessionsTable(), usersTable()], enums: [], sequences: [], views: [] };
}

/** A deep copy to change by hand, as a person changes the live database. */
export function clone(s: SchemaSnapshot): SchemaSnapshot {
    return JSON.parse(JSON.stringify(s)) as SchemaSnapshot;
}

export const table = (s: SchemaSnapshot, name: string): TableFacts => {
    const t = s.tables.find((x) => x.name === name);
    if (!t) throw new Error(`no table ${name}`);
    return t;
};

/** `audit_log (id serial PRIMARY KEY, at timestamptz NOT NULL DEFAULT now(), note text, "userId" text REFERENCES users(id))` as PostgreSQL 15 catalogs it. */
export function withAuditLog(s: SchemaSnapshot): SchemaSnapshot {
    const out = clone(s);
    out.tables.push({
        name: "audit_log",
        columns: [
            col("at", "timestamp with time zone", true, { default: "now()" }),
            col("id", "integer", true, { default: "nextval('audit_log_id_seq'::regclass)" }),
            col("note", "text", false),
            col("userId", "text", false),
        ],
        indexes: [{ name: "audit_log_pkey", unique: true, primary: true, constraint: "audit_log_pkey", definition: "CREATE UNIQUE INDEX audit_log_pkey ON public.audit_log USING btree (id)", columns: ["id"] }],
        foreignKeys: [{ name: "audit_log_userId_fkey", columns: ["userId"], refTable: "users", refColumns: ["id"], onUpdate: "NO ACTION", onDelete: "NO ACTION", deferrable: false, deferred: false }],
        checks: [],
    });
    out.sequences.push({ name: "audit_log_id_seq", type: "integer", start: "1", increment: "1", min: "1", max: "2147483647", cycle: false, ownedBy: { table: "audit_log", column: "id" } });
    out.tables.sort((a, b) => a.name.localeCompare(b.name));
    return out;
}
