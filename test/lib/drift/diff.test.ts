import { strict as assert } from "node:assert";
import { diffSchemas, findTableRenames } from "../../../lib/drift/diff";
import { foreignKeyShape, indexShape, normaliseDefault } from "../../../lib/drift/normalise";
import { Difference } from "../../../lib/drift/types";
import { clone, col, sample, table, usersTable, withAuditLog } from "./fixtures";

const brief = (ds: Difference[]): string[] => ds.map((d) => `${d.change} ${d.kind} ${d.table ? `${d.table}.` : ""}${d.name}${d.liveName ? ` → ${d.liveName}` : ""}: ${d.detail}`);

describe("drift: normalising what PostgreSQL stores", () => {
    it("takes now(), transaction_timestamp() and CURRENT_TIMESTAMP as one default, and a serial's nextval as 'the sequence this column owns'", () => {
        for (const e of ["now()", "transaction_timestamp()", "CURRENT_TIMESTAMP"]) assert.equal(normaliseDefault(e), "CURRENT_TIMESTAMP");
        assert.equal(normaliseDefault("nextval('users_id_seq'::regclass)", "users_id_seq"), "nextval(<the sequence this column owns>)");
        assert.equal(normaliseDefault(`nextval('public."User_id_seq"'::regclass)`, "User_id_seq"), "nextval(<the sequence this column owns>)");
        // A nextval of some other sequence is not the column's own: it stays as written.
        assert.equal(normaliseDefault("nextval('other_seq'::regclass)", "users_id_seq"), "nextval('other_seq'::regclass)");
        assert.equal(normaliseDefault("'user'::text"), "'user'::text");
        assert.equal(normaliseDefault(undefined), undefined);
    });

    it("compares indexes by what they do, not their name or their table's name", () => {
        const ix = usersTable().indexes[0];
        assert.equal(indexShape(ix), "UNIQUE btree (email)");
        assert.equal(indexShape({ ...ix, name: "other", definition: 'CREATE UNIQUE INDEX other ON public."User" USING btree (email)' }), "UNIQUE btree (email)");
        assert.equal(indexShape(usersTable().indexes[1]), "PRIMARY UNIQUE btree (id)");
        assert.equal(indexShape({ ...ix, unique: false, definition: "CREATE INDEX x ON public.users USING btree (lower(email)) WHERE (role = 'admin'::text)" }), "btree (lower(email)) WHERE (role = 'admin'::text)");
    });

    it("sees a foreign key's referenced table through a rename", () => {
        const fk = sample().tables[0].foreignKeys[0];
        assert.equal(foreignKeyShape(fk), "(userId) REFERENCES users(id) ON UPDATE CASCADE ON DELETE CASCADE");
        assert.equal(foreignKeyShape(fk, (t) => (t === "users" ? "User" : t)), "(userId) REFERENCES User(id) ON UPDATE CASCADE ON DELETE CASCADE");
    });
});

describe("drift: diffing the migrations' schema and the live one", () => {
    it("reports nothing for the same schema, whatever the column order or the default's spelling", () => {
        const live = clone(sample());
        table(live, "users").columns.reverse();
        table(live, "users").columns.find((c) => c.name === "createdAt")!.default = "now()";
        assert.deepEqual(diffSchemas(sample(), live), []);
    });

    it("names a column added, dropped, and changed (type, nullability, default), each once", () => {
        const live = clone(sample());
        const users = table(live, "users");
        users.columns.push(col("nickname", "character varying(40)", false));
        users.columns = users.columns.filter((c) => c.name !== "role");
        const email = users.columns.find((c) => c.name === "email")!;
        email.type = "character varying(100)";
        email.notNull = false;
        table(live, "sessions").columns.find((c) => c.name === "createdAt")!.default = undefined;
        assert.deepEqual(brief(diffSchemas(sample(), live)), [
            "changed column sessions.createdAt: default: CURRENT_TIMESTAMP → none",
            "changed column users.email: type: text → character varying(100); nullability: NOT NULL → NULL",
            "extra column users.nickname: character varying(40)",
            "missing column users.role: text NOT NULL DEFAULT 'user'::text",
        ]);
    });

    it("tells a dropped index from a renamed one and from one redefined under its name", () => {
        const live = clone(sample());
        const s = table(live, "sessions");
        s.indexes = s.indexes.filter((i) => i.name !== "sessions_userId_idx");
        const tok = s.indexes.find((i) => i.name === "sessions_tokenHash_key")!;
        tok.name = "tok_unique";
        const u = table(live, "users").indexes.find((i) => i.name === "users_email_key")!;
        u.unique = false;
        u.definition = "CREATE INDEX users_email_key ON public.users USING btree (email)";
        assert.deepEqual(brief(diffSchemas(sample(), live)), [
            'renamed index sessions.sessions_tokenHash_key → tok_unique: UNIQUE btree ("tokenHash"): named sessions_tokenHash_key by the migrations, tok_unique in the live database',
            'missing index sessions.sessions_userId_idx: btree ("userId")',
            "changed index users.users_email_key: UNIQUE btree (email) → btree (email)",
        ]);
    });

    it("finds the incident's rename (users → User) as one difference: columns, indexes and the foreign key that follows it are the same", () => {
        const live = clone(sample());
        live.tables = [table(live, "sessions"), usersTable("User")];
        table(live, "sessions").foreignKeys[0].refTable = "User";
        assert.deepEqual(findTableRenames(sample(), live), { users: "User" });
        assert.deepEqual(brief(diffSchemas(sample(), live)), ["renamed table users → User: the live database has table users as User (same columns)"]);
    });

    it("still finds a rename with a column added since, or by the primary key's name the rename kept; two candidates are no rename", () => {
        const live = clone(sample());
        const renamed = usersTable("User");
        renamed.columns.push(col("nickname", "text", false));
        live.tables = [table(live, "sessions"), renamed];
        table(live, "sessions").foreignKeys[0].refTable = "User";
        assert.deepEqual(findTableRenames(sample(), live), { users: "User" });
        assert.deepEqual(brief(diffSchemas(sample(), live)).slice(1), ["extra column users.nickname: text"]);

        const byPk = clone(live);
        table(byPk, "User").columns = [col("id", "text")];
        assert.deepEqual(findTableRenames(sample(), byPk), { users: "User" });

        const twice = clone(sample());
        twice.tables = [table(twice, "sessions"), usersTable("User"), usersTable("Person")];
        table(twice, "Person").indexes[1].constraint = "Person_pkey";
        table(twice, "User").indexes[1].constraint = "User_pkey";
        assert.deepEqual(findTableRenames(sample(), twice), {}, "an ambiguous rename was guessed");
    });

    it("reports a table added by hand once: its serial's sequence and its foreign key belong to it", () => {
        assert.deepEqual(brief(diffSchemas(sample(), withAuditLog(sample()))), ["extra table audit_log: 4 column(s): at, id, note, userId"]);
    });

    it("names enums and views: missing, extra, labels and definitions changed; whitespace is no change", () => {
        const expected = clone(sample());
        expected.enums = [{ name: "Role", labels: ["user", "admin"] }, { name: "Gone", labels: ["a"] }];
        expected.views = [{ name: "admins", materialized: false, definition: " SELECT users.id\n   FROM users\n  WHERE (users.role = 'admin'::text);" }];
        const live = clone(expected);
        live.enums = [{ name: "Role", labels: ["user"] }, { name: "Mood", labels: ["ok"] }];
        live.views[0].definition = "SELECT users.id FROM users WHERE (users.role = 'admin'::text);";
        live.views.push({ name: "v2", materialized: true, definition: "SELECT 1;" });
        assert.deepEqual(brief(diffSchemas(expected, live)), ["missing enum Gone: a", "extra enum Mood: ok", "changed enum Role: user, admin → user", "extra view v2: SELECT 1;"]);
    });
});
