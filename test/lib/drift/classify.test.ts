import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as path from "node:path";
import { classify, classifyAll } from "../../../lib/drift/classify";
import { diffSchemas } from "../../../lib/drift/diff";
import { parsePrismaSchema } from "../../../lib/drift/prismaSchema";
import { clone, col, sample, table } from "./fixtures";

const model = parsePrismaSchema(fs.readFileSync(path.resolve(__dirname, "../../../examples/cartie/apps/api/prisma/schema.prisma"), "utf8"));

describe("drift: what each difference means for the api", () => {
    it("a nullable column added by hand is a warning the api does not notice; NOT NULL without a default is an error: the api's inserts fail", () => {
        const live = clone(sample());
        table(live, "users").columns.push(col("nickname", "text", false), col("tenant", "integer", true));
        const [err, warn] = classifyAll(diffSchemas(sample(), live), { expected: sample(), live, model, data: { tableRows: {}, columnValues: { "users.nickname": 12, "users.tenant": 40 } } });
        assert.equal(err.subject, "column users.tenant");
        assert.equal(err.severity, "error");
        assert.match(err.api, /NOT NULL without a default and the api does not write it: every row the api inserts into users fails \(23502/);
        assert.equal(warn.subject, "column users.nickname");
        assert.equal(warn.severity, "warn");
        assert.equal(warn.data, "12 non-null values");
        assert.match(warn.fix, /npm run drift -- --propose[\s\S]*do not drop it by hand, it holds 12 non-null values/);
        assert.equal(warn.direction, "record");
    });

    it("a missing column names the model's field and Prisma's error, and gives the migrations' definition to restore it, never a drop", () => {
        const live = clone(sample());
        table(live, "users").columns = table(live, "users").columns.filter((c) => c.name !== "role");
        const [f] = classifyAll(diffSchemas(sample(), live), { expected: sample(), live, model });
        assert.equal(f.code, "DRIFT_COLUMN_MISSING");
        assert.equal(f.severity, "error");
        assert.match(f.api, /every query of GlobalUser reads GlobalUser\.role: it fails with Prisma P2022/);
        assert.equal(f.direction, "restore");
        assert.equal(f.restoreSql, `ALTER TABLE "users" ADD COLUMN "role" text DEFAULT 'user'::text NOT NULL;`);
        assert.match(f.fix, /never record it as a drop/);

        // A missing column other things of the migrations use says so.
        const noUserId = clone(sample());
        table(noUserId, "sessions").columns = table(noUserId, "sessions").columns.filter((c) => c.name !== "userId");
        const [g] = classifyAll(diffSchemas(sample(), noUserId), { expected: sample(), live: noUserId, model }).filter((x) => x.kind === "column");
        assert.equal(g.data, "the migrations' index sessions_userId_idx, foreign key sessions_userId_fkey use it");
    });

    it("a missing unique index is an error (the api's lookups by @unique), a plain one a warning (slower reads)", () => {
        const live = clone(sample());
        table(live, "users").indexes = table(live, "users").indexes.filter((i) => i.name !== "users_email_key");
        table(live, "sessions").indexes = table(live, "sessions").indexes.filter((i) => i.name !== "sessions_userId_idx");
        const fs_ = classifyAll(diffSchemas(sample(), live), { expected: sample(), live, model });
        assert.deepEqual(fs_.map((f) => `${f.severity} ${f.subject}`), ["error index users_email_key on users", "warn index sessions_userId_idx on sessions"]);
        assert.equal(fs_[0].restoreSql, "CREATE UNIQUE INDEX users_email_key ON users USING btree (email);");
        assert.match(fs_[1].api, /queries of model Session \(table sessions\) by userId get slower; nothing fails/);
    });

    it("the rename names the model that breaks and Prisma's P2021, with the live rows it holds", () => {
        const live = clone(sample());
        table(live, "users").name = "User";
        table(live, "sessions").foreignKeys[0].refTable = "User";
        const [f] = classifyAll(diffSchemas(sample(), live), { expected: sample(), live, model, data: { tableRows: { User: 2500 }, columnValues: {} } });
        assert.equal(f.code, "DRIFT_TABLE_RENAMED");
        assert.match(f.api, /^model GlobalUser expects table users; the live database has it as User: every query of GlobalUser fails with Prisma P2021/);
        assert.equal(f.data, "2500 rows");
        assert.equal(f.direction, "record");
    });

    it("a type change is an error, a changed default on a nullable column a warning, a lost default on NOT NULL an error", () => {
        const live = clone(sample());
        table(live, "sessions").columns.find((c) => c.name === "tokenHash")!.type = "character varying(64)";
        table(live, "users").columns.find((c) => c.name === "role")!.default = "'member'::text";
        table(live, "sessions").columns.find((c) => c.name === "createdAt")!.default = undefined;
        const out = classifyAll(diffSchemas(sample(), live), { expected: sample(), live, model }).map((f) => `${f.severity} ${f.subject}: ${f.api.split(":")[0]}`);
        assert.deepEqual(out, [
            "error column sessions.createdAt: Session.createdAt lost its default live and is NOT NULL",
            "error column sessions.tokenHash: Session.tokenHash has another type live (type",
            "warn column users.role: GlobalUser.role has another default live (default",
        ]);
    });

    it("classifies one difference the same way alone and in a list; every code is DRIFT_<KIND>_<CHANGE>", () => {
        const live = clone(sample());
        live.enums.push({ name: "Mood", labels: ["ok"] });
        const [d] = diffSchemas(sample(), live);
        const f = classify(d, { expected: sample(), live });
        assert.equal(f.code, "DRIFT_ENUM_EXTRA");
        assert.equal(f.severity, "info");
        assert.deepEqual(classifyAll([d], { expected: sample(), live }), [f]);
    });
});
