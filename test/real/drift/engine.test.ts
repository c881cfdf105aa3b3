/**
 * Schema drift end to end on the real Pulumi engine (test/real/support/engineStack.ts) and real
 * Docker: the incident's kind of hand change in the live database, `npm run drift` naming it,
 * `npm run drift -- --propose` writing the fix into the stack's copy of the app, and the next
 * `pulumi up` applying nothing new to the live database (the fix is marked applied, the live
 * schema is byte for byte what it was, every row kept), after which both checks are clean. Then a
 * schema.prisma change without a migration: `pulumi preview` and `pulumi up` fail before any
 * image is built, naming the model and the missing migration. Last, a hand change the pending
 * migration does not fix stops `pulumi up` in the Migration step, the serving api untouched. The
 * doctor reports both kinds of drift on the same host, starting no container.
 */
import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as path from "node:path";
import { readSchema } from "../../../lib/drift/catalog";
import { DoctorReport } from "../../../lib/doctor/types";
import { HISTORY_TABLE } from "../../../lib/migration/plan";
import { psqlIn } from "../support/db";
import { EngineFailed, EngineStack, describeChanges } from "../support/engineStack";
import { Cleanup, Exec, REPO, docker, exec } from "../support/run";

const API = "examples/cartie/apps/api";

describe("real engine: schema drift, its proposed fix and the model check through `pulumi up`", function () {
    const cleanup = new Cleanup();
    let s: EngineStack;
    let db: string;
    let rowsBefore = "";
    let schemaBefore = "";

    const doctor = async (...args: string[]): Promise<{ code: number; report: DoctorReport; text: string }> => {
        const json = await exec("node", ["--import", "tsx", path.join(REPO, "scripts/doctor.ts"), "--cwd", s.projectDir, "--stack", s.stack, "--only-stack", "--json", ...args], { cwd: REPO, timeoutMs: 600_000 });
        const text = await exec("node", ["--import", "tsx", path.join(REPO, "scripts/doctor.ts"), "--cwd", s.projectDir, "--stack", s.stack, "--only-stack", ...args], { cwd: REPO, timeoutMs: 600_000 });
        assert.equal(text.code, json.code, `${text.stdout}\n${text.stderr}`);
        return { code: json.code, report: JSON.parse(json.stdout) as DoctorReport, text: text.stdout };
    };
    const drift = (...args: string[]): Promise<Exec> => exec("node", ["--import", "tsx", path.join(REPO, "scripts/drift.ts"), "--cwd", s.projectDir, "--stack", s.stack, ...args], { cwd: REPO, timeoutMs: 600_000 });
    const sql = (text: string): Promise<string> => psqlIn(db, text);
    const rows = async (): Promise<string> =>
        sql(`SELECT (SELECT count(*) || ':' || md5(string_agg(u::text, '' ORDER BY id)) FROM users u) || '|' || (SELECT count(*) || ':' || md5(string_agg(a::text, '' ORDER BY id)) FROM audit_log a);`);
    const liveSchema = async (): Promise<string> => JSON.stringify(await readSchema((q) => sql(q).then((o) => `${o}\n`)));
    const apiImages = async (): Promise<string[]> => (await docker(["images", "--format", "{{.Repository}}:{{.Tag}}", "--filter", `reference=${s.prefix}-api*`])).stdout.split("\n").filter(Boolean).sort();

    before(async () => {
        s = await EngineStack.create(cleanup);
        const up = await s.up();
        assert.equal(up.failures.length, 0, describeChanges(up));
        // The first restore has no api image yet to take Prisma from: the model check says it skipped.
        assert.ok(up.diagnostics.some((d) => /model check \(schema\.prisma against the migrations\) skipped: no api image of this stack/.test(d.message)), JSON.stringify(up.diagnostics));
        db = await s.containerName("db");
    });
    after(() => cleanup.run());

    it("a clean stack: `npm run drift` reports no drift, and a preview (which now runs the model check) changes nothing", async () => {
        const r = await drift();
        assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
        assert.match(r.stdout, /Live schema: it is exactly what the applied migrations produce\./);
        assert.match(r.stdout, /Model \(schema\.prisma against the migrations, by `prisma migrate diff`\): they agree\./);
        assert.match(r.stdout, /\nNO DRIFT$/m);
        const preview = await s.preview({ expectNoChanges: true });
        assert.deepEqual(preview.changes, [], describeChanges(preview));
    });

    it("a column and a table added by hand during an incident: `npm run drift` names each, with the rows at stake (exit 1)", async () => {
        await sql(`INSERT INTO users (id, email, "passwordHash") SELECT 'drift-' || g, 'drift' || g || '@rows.test', 'x' FROM generate_series(1, 500) g;
            ALTER TABLE users ADD COLUMN nickname varchar(60); UPDATE users SET nickname = 'nick-' || id;
            CREATE TABLE audit_log (id serial PRIMARY KEY, at timestamptz NOT NULL DEFAULT now(), note text);
            INSERT INTO audit_log (note) SELECT 'entry ' || g FROM generate_series(1, 200) g;`);
        rowsBefore = await rows();
        schemaBefore = await liveSchema();
        const shown = await drift();
        assert.equal(shown.code, 1, shown.stderr);
        console.log(shown.stdout.replace(/^/gm, "      | "));
        const r = await drift("--json");
        assert.equal(r.code, 1, r.stderr);
        const report = JSON.parse(r.stdout) as { live: { findings: { code: string; subject: string; data?: string; severity: string }[] }; model: { status: string } };
        assert.deepEqual(
            report.live.findings.map((f) => `${f.severity} ${f.code} ${f.subject} [${f.data}]`).sort(),
            ["warn DRIFT_COLUMN_EXTRA column users.nickname [501 non-null values]", "warn DRIFT_TABLE_EXTRA table audit_log [200 rows]"],
        );
        assert.equal(report.model.status, "clean");

        // The doctor: one SCHEMA_DRIFT finding each, in JSON and text, warnings only (the host stays healthy); no container started.
        const before = await s.hostContainers();
        const d = await doctor();
        assert.deepEqual(
            d.report.findings.filter((f) => f.code === "SCHEMA_DRIFT").map((f) => `${f.severity} ${f.drift?.code} ${f.cause}`).sort(),
            ["warn DRIFT_COLUMN_EXTRA column users.nickname is in the live database but in no migration (501 non-null values)", "warn DRIFT_TABLE_EXTRA table audit_log is in the live database but in no migration (200 rows)"],
        );
        assert.equal(d.report.drift?.model.status, "clean", JSON.stringify(d.report.drift));
        assert.match(d.text, /\[warn\] SCHEMA_DRIFT cartie-real-\w+-db\n {4}cause: {5}column users\.nickname is in the live database but in no migration \(501 non-null values\)\n {4}means: {5}no field of model GlobalUser \(table users\) maps to it/);
        assert.match(d.text, /Schema drift: differs \(SCHEMA_DRIFT above\); model: schema\.prisma agrees with the migrations\./);
        assert.deepEqual(await s.hostContainers(), before, "the doctor started or removed a container");
    });

    it("`--propose` writes the forward-only fix and the schema.prisma lines; the next `pulumi up` marks it applied: the live schema and every row as they were, both checks clean", async () => {
        const p = await drift("--propose");
        assert.equal(p.code, 0, `${p.stdout}\n${p.stderr}`);
        console.log(p.stdout.replace(/^/gm, "      | "));
        const file = path.join(s.projectDir, API, "prisma/migrations/v43_fix_schema_drift/migration.sql");
        assert.match(p.stdout, new RegExp(`Wrote ${file.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}: \\d+ statement\\(s\\) recording 2 difference\\(s\\)`));
        assert.match(fs.readFileSync(file, "utf8"), /^-- cartie:drift-fix v1$/m);
        const schema = s.readAppFile("apps/api/prisma/schema.prisma");
        assert.match(schema, /nickname\s+String\?\s+@db\.VarChar\(60\)/);
        assert.match(schema, /model audit_log \{/);

        const up = await s.up();
        assert.equal(up.failures.length, 0, describeChanges(up));
        assert.ok(up.changes.some((c) => c.name === "migration"), `the Migration step did not run:\n${describeChanges(up)}`);
        console.log(`      the update after the fix: ${up.changes.length} changes in ${up.ms} ms (${up.changes.map((c) => `${c.op} ${c.name}`).join(", ")})`);
        assert.equal(await liveSchema(), schemaBefore, "the update changed the live schema");
        assert.equal(await rows(), rowsBefore, "rows changed");
        // Marked applied, not run: Prisma records a resolved migration with no applied steps.
        assert.equal(await sql(`SELECT applied_steps_count || ':' || (finished_at IS NOT NULL) FROM ${HISTORY_TABLE} WHERE migration_name = 'v43_fix_schema_drift';`), "0:true");
        const after = await drift();
        assert.equal(after.code, 0, `${after.stdout}\n${after.stderr}`);
        assert.match(after.stdout, /\nNO DRIFT$/m);
        const preview = await s.preview({ expectNoChanges: true });
        assert.deepEqual(preview.changes, [], describeChanges(preview));
    });

    it("a schema.prisma field without a migration: `pulumi preview` and `pulumi up` fail before any build, naming the model and the missing migration", async () => {
        const original = s.readAppFile("apps/api/prisma/schema.prisma");
        s.writeAppFile("apps/api/prisma/schema.prisma", original.replace(/(\n\s+role\s+String\s+@default\("user"\))/, '$1\n  age          Int       @default(0)'));
        const images = await apiImages();
        for (const run of [() => s.preview(), () => s.up()]) {
            const err = await run().then(
                () => assert.fail("the update went on with schema.prisma and the migrations disagreeing"),
                (e: unknown) => e,
            );
            assert.ok(err instanceof EngineFailed, String(err));
            assert.match(err.text, /schema\.prisma and the migrations disagree \(model drift\)/);
            assert.match(err.text, /model GlobalUser \(users\): Added column `age`/);
            assert.match(err.text, /missing migration: examples\/cartie\/apps\/api\/prisma\/migrations\/v44_update_globaluser\/migration\.sql/);
            assert.match(err.text, /ALTER TABLE "users" ADD COLUMN\s+"age" INTEGER NOT NULL DEFAULT 0/);
            assert.deepEqual(err.run.changes, [], describeChanges(err.run));
        }
        assert.deepEqual(await apiImages(), images, "an image was built");
        // The doctor names it too (Prisma through `docker exec` in the running api).
        const d = await doctor();
        const model = d.report.findings.find((f) => f.code === "MODEL_DRIFT");
        assert.match(model?.cause ?? JSON.stringify(d.report.drift), /^model GlobalUser \(users\) in schema\.prisma has changes no migration makes: Added column `age`$/);
        assert.equal(d.code, 1);
        s.writeAppFile("apps/api/prisma/schema.prisma", original);
    });

    it("a hand change the pending migration does not fix: `pulumi up` stops in the Migration step before anything changes, naming it; the serving api stays", async () => {
        await sql(`ALTER TABLE users ALTER COLUMN email DROP NOT NULL;`);
        // A data-only migration: schema.prisma needs no change, so only the live check has something to say.
        fs.mkdirSync(path.join(s.projectDir, API, "prisma/migrations/v44_backfill_roles"));
        s.writeAppFile("apps/api/prisma/migrations/v44_backfill_roles/migration.sql", `UPDATE "users" SET "role" = 'user' WHERE "role" = '';\n`);
        const api = await s.containerName("api");
        const apis = await s.hostContainers("api");
        const err = await s.up().then(
            () => assert.fail("the update went on over a drifted schema"),
            (e: unknown) => e,
        );
        assert.ok(err instanceof EngineFailed, String(err));
        assert.equal(err.run.failures.find((f) => f.name === "migration")?.name, "migration", err.text);
        assert.match(err.text, /migration refused \(SCHEMA_DRIFT\): the live schema differs from the migrations in 1 way\(s\) the pending migrations \(v44_backfill_roles\) do not fix/);
        assert.match(err.text, /DRIFT_COLUMN_CHANGED column users\.email: nullability: NOT NULL → NULL/);
        assert.equal(await sql(`SELECT count(*) FROM ${HISTORY_TABLE} WHERE migration_name = 'v44_backfill_roles';`), "0");
        assert.equal(await s.containerName("api"), api, "the api was replaced");
        assert.deepEqual(await s.hostContainers("api"), apis, "an api container was created or removed");
    });
});
