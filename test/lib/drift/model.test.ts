import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as path from "node:path";
import { interpretModelDiff, parseModelDiff } from "../../../lib/drift/model";
import { applyTableRenames, mergePulled } from "../../../lib/drift/prismaMerge";
import { describeTable, fieldOfColumn, parsePrismaSchema } from "../../../lib/drift/prismaSchema";

const SCHEMA = fs.readFileSync(path.resolve(__dirname, "../../../examples/cartie/apps/api/prisma/schema.prisma"), "utf8");
const MIGRATIONS = ["v41_baseline", "v42_add_sessions"];

/** `prisma migrate diff --from-migrations … --to-schema-datamodel … --exit-code` stdout, Prisma 6.19.3 (captured on PostgreSQL 15 here). */
const SUMMARY = `
[+] Added enums
  - Kind

[+] Added tables
  - Post

[*] Changed the \`sessions\` table
  [-] Removed index on columns (userId)
  [+] Added index on columns (userId, createdAt)

[*] Changed the \`users\` table
  [+] Added column \`age\`
  [+] Added column \`nickname\`
  [*] Altered column \`passwordHash\` (type changed)
`;
const SCRIPT = `-- AlterTable
ALTER TABLE "users" ADD COLUMN     "age" INTEGER NOT NULL DEFAULT 0;`;

describe("drift: the model check's reading of Prisma", () => {
    it("reads schema.prisma's models, tables (@@map) and columns (@map), relation fields aside", () => {
        const info = parsePrismaSchema(`${SCHEMA}\nmodel Note {\n  id   Int    @id\n  body String @map("text") // a comment\n  kind Kind\n}\nenum Kind {\n  A\n  @@map("kinds")\n}\n`);
        assert.deepEqual(info.models.map((m) => `${m.name}:${m.table}`), ["GlobalUser:users", "Session:sessions", "Note:Note"]);
        assert.equal(fieldOfColumn(info, "users", "passwordHash"), "GlobalUser.passwordHash");
        assert.equal(fieldOfColumn(info, "Note", "text"), "Note.body");
        assert.equal(fieldOfColumn(info, "Note", "kind"), "Note.kind", "an enum field is a column");
        assert.equal(info.models[0].fields.find((f) => f.name === "sessions")?.column, undefined, "a relation field is no column");
        assert.deepEqual(info.enums, [{ name: "Kind", dbName: "kinds" }]);
        assert.equal(describeTable(info, "sessions"), "model Session (table sessions)");
        assert.equal(describeTable(info, "audit_log"), "table audit_log");
    });

    it("turns Prisma's summary into changes per model and names the missing migration", () => {
        assert.deepEqual(parseModelDiff(SUMMARY), [
            { table: "Kind", changes: ["Added enum"] },
            { table: "Post", changes: ["Added table"] },
            { table: "sessions", changes: ["Removed index on columns (userId)", "Added index on columns (userId, createdAt)"] },
            { table: "users", changes: ["Added column `age`", "Added column `nickname`", "Altered column `passwordHash` (type changed)"] },
        ]);
        const schema = `${SCHEMA}\nmodel Post {\n  id Int @id\n}\nenum Kind {\n  A\n}\n`;
        const r = interpretModelDiff({ code: 2, stdout: SUMMARY, stderr: "" }, { code: 0, stdout: SCRIPT, stderr: "" }, schema, MIGRATIONS, "examples/cartie/apps/api");
        assert.equal(r.status, "drift");
        if (r.status !== "drift") return;
        assert.equal(r.migration, "v43_update_kind_post_session");
        assert.match(r.message, /^schema\.prisma and the migrations disagree \(model drift\)/);
        assert.match(r.message, /\n {2}- model GlobalUser \(users\): Added column `age`; Added column `nickname`; Altered column `passwordHash` \(type changed\)\n/);
        assert.match(r.message, /\n {2}- model Post \(Post\): Added table\n/);
        assert.match(r.message, /\n {2}- enum Kind \(Kind\): Added enum\n/);
        assert.match(r.message, /missing migration: examples\/cartie\/apps\/api\/prisma\/migrations\/v43_update_kind_post_session\/migration\.sql/);
        assert.match(r.message, /It would contain:\n {4}-- AlterTable\n {4}ALTER TABLE "users" ADD COLUMN {5}"age" INTEGER NOT NULL DEFAULT 0;$/);
    });

    it("exit 0 is clean, 2 is drift, anything else is 'could not tell' with Prisma's last words (the adapter's warnings left out)", () => {
        assert.deepEqual(interpretModelDiff({ code: 0, stdout: "No difference detected.\n", stderr: "" }, undefined, SCHEMA, MIGRATIONS, "x"), { status: "clean" });
        const failed = interpretModelDiff(
            { code: 1, stdout: "", stderr: "Loaded Prisma config from prisma.config.ts.\n\nWARNING: Your schema specifies the following datasource properties\nError: Failed to connect to the shadow database\n" },
            undefined,
            SCHEMA,
            MIGRATIONS,
            "x",
        );
        assert.deepEqual(failed, { status: "unknown", reason: "prisma migrate diff failed (exit 1): Error: Failed to connect to the shadow database" });
    });
});

/**
 * The shape of `prisma db pull --print` (Prisma 6.19.3 re-introspecting the sample's schema.prisma)
 * for the sample plus a nickname column, an index and an audit_log table; abridged by hand from
 * what it printed here. test/real/drift/drift.test.ts runs the real introspection.
 */
const PULLED = `generator client {
  provider   = "prisma-client-js"
  engineType = "client"
}

datasource db {
  provider = "postgresql"
  url      = env("DATABASE_URL")
}

model GlobalUser {
  id           String      @id @default(uuid())
  email        String      @unique
  passwordHash String
  role         String      @default("user")
  createdAt    DateTime    @default(now())
  nickname     String?     @db.VarChar(40)
  sessions     Session[]
  audit_log    audit_log[]

  @@index([role])
  @@map("users")
}

model Session {
  id        String     @id @default(uuid())
  userId    String
  tokenHash String     @unique
  createdAt DateTime   @default(now())
  expiresAt DateTime
  user      GlobalUser @relation(fields: [userId], references: [id], onDelete: Cascade)

  @@index([userId])
  @@map("sessions")
}

model audit_log {
  id     Int         @id @default(autoincrement())
  note   String?
  userId String?
  users  GlobalUser? @relation(fields: [userId], references: [id], onDelete: NoAction, onUpdate: NoAction)
}
`;

describe("drift: merging Prisma's introspection into schema.prisma", () => {
    it("adds the fields, the index and the new model, keeps every comment and line it does not change", () => {
        const m = mergePulled(SCHEMA, PULLED, "Recorded by the test");
        assert.deepEqual(m.changes, [
            "model GlobalUser: field nickname added (nickname String? @db.VarChar(40))",
            "model GlobalUser: field audit_log added (audit_log audit_log[])",
            "model GlobalUser: @@index([role]) added",
            "model audit_log: added (table audit_log)",
        ]);
        for (const line of SCHEMA.split("\n")) assert.ok(m.text.includes(line), `lost: ${line}`);
        const info = parsePrismaSchema(m.text);
        assert.deepEqual(info.models.map((x) => x.name), ["GlobalUser", "Session", "audit_log"]);
        assert.deepEqual(info.models[0].blockAttributes, ['@@map("users")', "@@index([role])"]);
        assert.match(m.text, /\n\/\/ Recorded by the test\nmodel audit_log \{/);
        // Merging what is already there changes nothing.
        assert.deepEqual(mergePulled(m.text, PULLED, "again"), { text: m.text, changes: [] });
    });

    it("maps a renamed table's model to its new name for re-introspection, adding @@map where there was none", () => {
        const renamed = applyTableRenames(SCHEMA, { users: "User", sessions: "Sessions2" });
        const info = parsePrismaSchema(renamed);
        assert.deepEqual(info.models.map((x) => `${x.name}:${x.table}`), ["GlobalUser:User", "Session:Sessions2"]);
        const bare = applyTableRenames("model Thing {\n  id Int @id\n}\n", { Thing: "things" });
        assert.equal(parsePrismaSchema(bare).models[0].table, "things");
    });
});
