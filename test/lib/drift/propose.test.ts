import { strict as assert } from "node:assert";
import { adapterStatements } from "../../../lib/drift/check";
import { classifyAll } from "../../../lib/drift/classify";
import { diffSchemas } from "../../../lib/drift/diff";
import { DRIFT_FIX_MARKER, isDriftFix, nextMigrationName, proposeFix } from "../../../lib/drift/propose";
import { SchemaSnapshot } from "../../../lib/drift/types";
import { clone, col, sample, table, withAuditLog } from "./fixtures";

const MIGRATIONS = ["v41_baseline", "v42_add_sessions"];
const propose = (live: SchemaSnapshot) => {
    const expected = sample();
    const findings = classifyAll(diffSchemas(expected, live), { expected, live, data: { tableRows: { audit_log: 300 }, columnValues: { "users.nickname": 7 } } });
    return proposeFix({ findings, expected, live, migrations: MIGRATIONS, database: "cartie", stack: "dev", now: new Date("2026-12-02T10:00:00Z") });
};
/** The statements Prisma's adapter would run, comment lines left out. */
const statementsOf = (sql: string): string[] =>
    adapterStatements(sql)
        .map((s) =>
            s
                .split("\n")
                .filter((l) => !l.trim().startsWith("--"))
                .join("\n")
                .trim(),
        )
        .filter(Boolean);

describe("drift: the proposed fix_schema_drift migration", () => {
    it("is named after the last migration, in its style", () => {
        assert.equal(nextMigrationName(MIGRATIONS), "v43_fix_schema_drift");
        assert.equal(nextMigrationName(["0007_init", "0009_x"]), "0010_fix_schema_drift");
        assert.equal(nextMigrationName(["20240101000000_init"], "fix_schema_drift", new Date("2026-12-02T10:00:00Z")), "20261202100000_fix_schema_drift");
        assert.equal(nextMigrationName(["20991231235959_future"], "fix_schema_drift", new Date("2026-12-02T10:00:00Z")), "20991231235960_fix_schema_drift");
        assert.equal(nextMigrationName(["init"]), "init_fix_schema_drift");
        assert.equal(nextMigrationName([]), "v1_fix_schema_drift");
    });

    it("records what the live database added, in an order that runs: the table's sequence, the table, its index and foreign key after every table", () => {
        const live = withAuditLog(sample());
        table(live, "users").columns.push(col("nickname", "character varying(40)", false));
        table(live, "users").indexes.push({ name: "users_role_idx", unique: false, primary: false, definition: "CREATE INDEX users_role_idx ON public.users USING btree (role)", columns: ["role"] });
        const p = propose(live);
        assert.equal(p.name, "v43_fix_schema_drift");
        assert.deepEqual(statementsOf(p.sql), [
            'CREATE SEQUENCE "audit_log_id_seq" AS integer START WITH 1 INCREMENT BY 1 MINVALUE 1 MAXVALUE 2147483647',
            'CREATE TABLE "audit_log" (\n    "at" timestamp with time zone DEFAULT now() NOT NULL,\n    "id" integer DEFAULT nextval(\'audit_log_id_seq\'::regclass) NOT NULL,\n    "note" text,\n    "userId" text,\n    CONSTRAINT "audit_log_pkey" PRIMARY KEY ("id")\n)',
            'ALTER SEQUENCE "audit_log_id_seq" OWNED BY "audit_log"."id"',
            'ALTER TABLE "users" ADD COLUMN "nickname" character varying(40)',
            "CREATE INDEX users_role_idx ON users USING btree (role)",
            'ALTER TABLE "audit_log" ADD CONSTRAINT "audit_log_userId_fkey" FOREIGN KEY ("userId") REFERENCES "users"("id") ON DELETE NO ACTION ON UPDATE NO ACTION',
        ]);
        assert.deepEqual(p.notRecorded, []);
    });

    it("renames first, so what follows uses the live names; never drops what the live database lacks", () => {
        const live = clone(sample());
        table(live, "users").name = "User";
        table(live, "sessions").foreignKeys[0].refTable = "User";
        table(live, "User").columns.push(col("nickname", "text", false));
        table(live, "sessions").indexes = table(live, "sessions").indexes.filter((i) => i.name !== "sessions_userId_idx");
        const p = propose(live);
        assert.deepEqual(statementsOf(p.sql), ['ALTER TABLE "users" RENAME TO "User"', 'ALTER TABLE "User" ADD COLUMN "nickname" text']);
        assert.deepEqual(p.notRecorded.map((n) => `${n.finding.subject}: ${n.why.split(":")[0]}`), ["index sessions_userId_idx on sessions: the migrations have it and the live database lacks it"]);
        assert.doesNotMatch(p.sql.replace(/^--.*$/gm, ""), /\bDROP\b/);
    });

    it("changes a column to its live type, nullability and default", () => {
        const live = clone(sample());
        const email = table(live, "users").columns.find((c) => c.name === "email")!;
        email.type = "character varying(100)";
        email.notNull = false;
        table(live, "users").columns.find((c) => c.name === "role")!.default = "'member'::text";
        assert.deepEqual(statementsOf(propose(live).sql), [
            'ALTER TABLE "users" ALTER COLUMN "email" TYPE character varying(100) USING "email"::character varying(100)',
            'ALTER TABLE "users" ALTER COLUMN "email" DROP NOT NULL',
            `ALTER TABLE "users" ALTER COLUMN "role" SET DEFAULT 'member'::text`,
        ]);
    });

    it("has a header saying what and why, with the marker the Migration step looks for, and no `;` that Prisma's adapter would split on", () => {
        const live = withAuditLog(sample());
        table(live, "users").columns = table(live, "users").columns.filter((c) => c.name !== "role");
        const p = propose(live);
        assert.ok(isDriftFix(p.sql));
        assert.ok(p.sql.includes(`\n${DRIFT_FIX_MARKER}\n`));
        assert.match(p.sql, /^-- v43_fix_schema_drift: written by `npm run drift -- --propose` for stack dev on 2026-12-02T10:00:00\.000Z\./);
        assert.match(p.sql, /-- What: records in the migrations what the live database "cartie" already has/);
        assert.match(p.sql, /--   - warn DRIFT_TABLE_EXTRA table audit_log: 4 column\(s\): at, id, note, userId \[300 rows\]/);
        assert.match(p.sql, /-- Not recorded here[^\n]*\n--   - column users\.role: the migrations have it and the live database lacks it/);
        // Every piece Prisma's adapter would run is a whole statement (or only comments).
        for (const piece of adapterStatements(p.sql)) {
            const code = piece.replace(/^--.*$/gm, "").trim();
            if (code) assert.match(code, /^(CREATE|ALTER)\b/, `a statement was cut: ${piece}`);
        }
        assert.equal(isDriftFix("-- v43_x\nALTER TABLE x ADD COLUMN y int;\n"), false);
    });

    it("refuses to record a statement with a `;` inside and says why", () => {
        const live = clone(sample());
        table(live, "users").columns.push(col("motto", "text", false, { default: "'a;b'::text" }));
        const p = propose(live);
        assert.deepEqual(p.recorded, []);
        assert.match(p.notRecorded[0].why, /holds a `;` inside a statement, which Prisma's Postgres adapter would cut in two/);
    });
});
