/**
 * Schema drift (issue 24) on real PostgreSQL 15 and the sample's real Prisma 6.19.3, on the host:
 * the live check (lib/drift) against databases Prisma itself migrated, each hand change of the
 * incident's kind detected and named, the model check through `prisma migrate diff`, the proposal
 * proven and written, and the Migration step's plan (runMigrations with the drift hooks, as
 * scripts/migrate.ts wires them) stopping, marking a fix applied, or going on.
 * One throwaway cluster; one database per case.
 */
import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as path from "node:path";
import { checkLive, DriftSession, SCRATCH_PREFIX, scratchName } from "../../../lib/drift/check";
import { DriftFinding } from "../../../lib/drift/classify";
import { readMigrations } from "../../../lib/drift/files";
import { driftHooks } from "../../../lib/drift/migrationStep";
import { checkModel } from "../../../lib/drift/model";
import { parsePrismaSchema } from "../../../lib/drift/prismaSchema";
import { isDriftFix } from "../../../lib/drift/propose";
import { proposeAndWrite } from "../../../lib/drift/proposeRun";
import { DEFAULTS } from "../../../lib/config";
import { HISTORY_TABLE } from "../../../lib/migration/plan";
import { MigrationError, runMigrations } from "../../../lib/migration/run";
import { hostDriftTarget, hostPrisma, hostPrismaTool } from "../support/hostDriftTarget";
import { HostPostgres } from "../support/hostPostgres";
import { apiVariant, hostMigrationTarget } from "../support/hostMigrationTarget";
import { Cleanup, runId } from "../support/run";
import { API_DIR, MIGRATIONS_DIR, hostApi } from "../support/sample";

const BASELINE = DEFAULTS.migrationBaseline;
const PASSWORD = `real-drift-${runId()}-${runId()}`;
const SCHEMA = fs.readFileSync(path.join(API_DIR, "prisma/schema.prisma"), "utf8");

describe("real: schema drift on PostgreSQL 15 with the sample's Prisma 6.19.3", function () {
    const cleanup = new Cleanup();
    const id = runId();
    let pg: HostPostgres;
    let apiDir: string;
    const migrations = readMigrations(MIGRATIONS_DIR);
    const names = migrations.map((m) => m.name);
    const model = parsePrismaSchema(SCHEMA);
    let n = 0;

    const template = `d_${id}_prisma`;
    /** A database migrated by Prisma itself (a copy of the one `migrate deploy` made in `before`), with rows. */
    async function migratedDb(rows = 40): Promise<string> {
        const db = `d_${id}_${++n}`;
        await pg.psql("postgres", `CREATE DATABASE ${db} TEMPLATE ${template} OWNER cartie;`);
        await pg.psql(db, `INSERT INTO users (id, email, "passwordHash") SELECT 'u' || g, 'user' || g || '@cartie.test', md5(g::text) FROM generate_series(1, ${rows}) g;
            INSERT INTO sessions (id, "userId", "tokenHash", "expiresAt") SELECT 's' || g, 'u' || g, md5('t' || g), now() + interval '1 day' FROM generate_series(1, ${Math.min(rows, 10)}) g;`);
        return db;
    }

    const check = async (db: string, applied: string[] = names) => checkLive(new DriftSession(hostDriftTarget(pg, db), migrations), { applied, model });
    const scratchLeft = async (): Promise<string> => pg.psql("postgres", `SELECT string_agg(datname, ',') FROM pg_database WHERE datname LIKE '${SCRATCH_PREFIX}%';`);
    const fingerprint = async (db: string): Promise<string> =>
        pg.psql(db, `SELECT (SELECT count(*) || ':' || md5(string_agg(u::text, '' ORDER BY id)) FROM users u) || '|' || (SELECT count(*) || ':' || md5(string_agg(s::text, '' ORDER BY id)) FROM sessions s);`);
    const codes = (fs: DriftFinding[]): string[] => fs.map((f) => `${f.code} ${f.subject}${f.liveName ? ` → ${f.liveName}` : ""}`);

    before(async function () {
        apiDir = await hostApi();
        pg = await HostPostgres.start(PASSWORD);
        cleanup.add("host postgres", () => pg.stop());
        // Prisma's own `migrate deploy`, through the Migration step's plan and drift hooks (an empty database: nothing to compare yet).
        await pg.createDatabase(template);
        const target = hostMigrationTarget(pg, template, apiDir);
        const { log } = await runMigrations(target, names, BASELINE, [PASSWORD], driftHooks(hostDriftTarget(pg, template), migrations, model));
        assert.deepEqual(target.prismaCalls, [["migrate", "deploy"]]);
        assert.match(log.join("\n"), /drift check: the live schema is what the applied migrations produce \(no migrations\)[\s\S]*\$ prisma migrate deploy[\s\S]*drift check: the live schema is now what every migration produces/);
    });

    afterEach(async () => {
        assert.equal((await scratchLeft()).trim(), "", "a scratch database was left behind");
    });

    after(async () => {
        await cleanup.run();
    });

    it("a database Prisma migrated reports nothing: the scratch build by psql normalises to what `prisma migrate deploy` made", async () => {
        const db = await migratedDb();
        const c = await check(db);
        assert.deepEqual(codes(c.findings), []);
        assert.deepEqual(c.blocking, []);
        assert.equal(c.refusal, undefined);
        // The live read is real: the tables, their columns, indexes and the foreign key are all there.
        assert.deepEqual(c.live.tables.map((t) => t.name), ["sessions", "users"]);
        assert.deepEqual(c.live.tables.find((t) => t.name === "sessions")?.foreignKeys.map((f) => `${f.name} → ${f.refTable} ${f.onDelete}`), ["sessions_userId_fkey → users CASCADE"]);
    });

    it("a column added by hand is named, with the values it holds, as a warning that stops nothing", async () => {
        const db = await migratedDb();
        await pg.psql(db, `ALTER TABLE users ADD COLUMN nickname varchar(40); UPDATE users SET nickname = 'n-' || id WHERE id LIKE 'u1%';`); // u1, u10 … u19
        const c = await check(db);
        assert.deepEqual(codes(c.findings), ["DRIFT_COLUMN_EXTRA column users.nickname"]);
        const f = c.findings[0];
        assert.equal(f.severity, "warn");
        assert.equal(f.detail, "character varying(40)");
        assert.equal(f.data, "11 non-null values");
        assert.equal(f.direction, "record");
        assert.match(f.api, /no field of model GlobalUser \(table users\) maps to it/);
        assert.deepEqual(c.blocking, []);
    });

    it("a column dropped by hand is an error naming the model's field and Prisma's P2022; its restore SQL makes the check clean again", async () => {
        const db = await migratedDb();
        await pg.psql(db, `ALTER TABLE users DROP COLUMN role;`);
        const c = await check(db);
        assert.deepEqual(codes(c.findings), ["DRIFT_COLUMN_MISSING column users.role"]);
        const f = c.findings[0];
        assert.equal(f.severity, "error");
        assert.match(f.api, /GlobalUser\.role: it fails with Prisma P2022/);
        assert.equal(f.direction, "restore");
        assert.equal(f.restoreSql, `ALTER TABLE "users" ADD COLUMN "role" text DEFAULT 'user'::text NOT NULL;`);
        assert.match(c.refusal ?? "", /differs from the migrations in 1 way\(s\) no pending migration fixes:[\s\S]*column users\.role/);
        await pg.psql(db, f.restoreSql ?? "");
        assert.deepEqual(codes((await check(db)).findings), []);
    });

    it("an index dropped by hand is named with its definition; the restore SQL brings it back", async () => {
        const db = await migratedDb();
        await pg.psql(db, `DROP INDEX "sessions_userId_idx";`);
        const c = await check(db);
        assert.deepEqual(codes(c.findings), ["DRIFT_INDEX_MISSING index sessions_userId_idx on sessions"]);
        assert.equal(c.findings[0].severity, "warn", "a plain index only makes reads slower");
        assert.equal(c.findings[0].detail, 'btree ("userId")');
        await pg.psql(db, c.findings[0].restoreSql ?? "");
        assert.deepEqual(codes((await check(db)).findings), []);

        await pg.psql(db, `DROP INDEX "users_email_key";`);
        const unique = (await check(db)).findings;
        assert.deepEqual(codes(unique), ["DRIFT_INDEX_MISSING index users_email_key on users"]);
        assert.equal(unique[0].severity, "error", "a unique index the api relies on is gone");
    });

    it("a type changed by hand is an error naming the field, old and new type", async () => {
        const db = await migratedDb();
        await pg.psql(db, `ALTER TABLE sessions ALTER COLUMN "tokenHash" TYPE varchar(64);`);
        const c = await check(db);
        assert.deepEqual(codes(c.findings), ['DRIFT_COLUMN_CHANGED column sessions.tokenHash']);
        assert.equal(c.findings[0].detail, "type: text → character varying(64)");
        assert.match(c.findings[0].api, /^Session\.tokenHash has another type live/);
        assert.equal(c.findings[0].severity, "error");
    });

    it("the incident's rename (users → User) is one finding: the model, the table, P2021; the foreign key that follows it is not a second one", async () => {
        const db = await migratedDb();
        await pg.psql(db, `ALTER TABLE users RENAME TO "User";`);
        const c = await check(db);
        assert.deepEqual(codes(c.findings), ["DRIFT_TABLE_RENAMED table users → User"]);
        assert.match(c.findings[0].api, /model GlobalUser expects table users; the live database has it as User: every query of GlobalUser fails with Prisma P2021/);
        assert.equal(c.findings[0].data, "40 rows");
        assert.equal(c.blocking.length, 1);
    });

    it("a schema.prisma change without a migration: Prisma's migrate diff names the model, and the message names the missing migration and its SQL", async () => {
        const variant = apiVariant(apiDir, {});
        cleanup.dir(variant);
        const schemaFile = path.join(variant, "prisma/schema.prisma");
        fs.writeFileSync(schemaFile, SCHEMA.replace('  role         String    @default("user")', '  role         String    @default("user")\n  nickname     String?'));
        const clean = await checkModel(hostPrisma(pg, apiDir), SCHEMA, names, "examples/cartie/apps/api");
        assert.equal(clean.status, "clean");
        const m = await checkModel(hostPrisma(pg, variant), fs.readFileSync(schemaFile, "utf8"), names, "examples/cartie/apps/api");
        assert.equal(m.status, "drift");
        if (m.status !== "drift") return;
        assert.deepEqual(m.changes, [{ table: "users", model: "GlobalUser", changes: ["Added column `nickname`"] }]);
        assert.equal(m.migration, "v43_update_globaluser");
        assert.match(m.sql, /ALTER TABLE "users" ADD COLUMN\s+"nickname" TEXT;/);
        assert.match(m.message, /model GlobalUser \(users\): Added column `nickname`/);
        assert.match(m.message, /missing migration: examples\/cartie\/apps\/api\/prisma\/migrations\/v43_update_globaluser\/migration\.sql/);
        // Prisma's shadow database is gone again.
        assert.equal((await pg.psql("postgres", "SELECT count(*) FROM pg_database WHERE datname LIKE 'prisma_migrate_shadow_db_%';")).trim(), "0");
    });

    describe("--propose, then the Migration step", () => {
        let db: string;
        let variant: string;
        let before: string;

        it("writes <next>_fix_schema_drift: forward only, proven against the live schema, with schema.prisma merged from Prisma's introspection", async () => {
            db = await migratedDb(2500);
            await pg.psql(
                db,
                `ALTER TABLE users ADD COLUMN nickname varchar(40); UPDATE users SET nickname = 'n' || id;
                 CREATE INDEX users_role_idx ON users(role);
                 CREATE TABLE audit_log (id serial PRIMARY KEY, at timestamptz NOT NULL DEFAULT now(), note text, "userId" text REFERENCES users(id));
                 INSERT INTO audit_log (note, "userId") SELECT 'note ' || g, 'u' || g FROM generate_series(1, 300) g;
                 DROP INDEX "sessions_userId_idx";`,
            );
            before = `${await fingerprint(db)}|${await pg.psql(db, "SELECT count(*) FROM audit_log;")}`;
            variant = apiVariant(apiDir, {});
            cleanup.dir(variant);
            const session = new DriftSession(hostDriftTarget(pg, db), migrations);
            const c = await checkLive(session, { applied: names, model });
            const result = await proposeAndWrite({ session, check: c, apiDir: variant, database: db, stack: "test", prisma: hostPrismaTool(pg, apiDir), now: new Date("2026-12-02T10:00:00Z") });
            assert.equal(result.proposal.name, "v43_fix_schema_drift");
            assert.deepEqual(result.proposal.recorded.map((f) => f.subject).sort(), ["column users.nickname", "index users_role_idx on users", "table audit_log"]);
            assert.deepEqual(
                result.proposal.notRecorded.map((x) => x.finding.subject),
                ["index sessions_userId_idx on sessions"],
                "a thing the live database lacks is never recorded as a drop",
            );
            const sql = fs.readFileSync(path.join(variant, "prisma/migrations/v43_fix_schema_drift/migration.sql"), "utf8");
            assert.ok(isDriftFix(sql));
            assert.doesNotMatch(sql.replace(/^--.*$/gm, ""), /\bDROP\b/i, "the fix drops something");
            assert.match(sql, /ALTER TABLE "users" ADD COLUMN "nickname" character varying\(40\);/);
            assert.match(sql, /CREATE TABLE "audit_log"/);
            assert.match(sql, /^-- Not recorded here[\s\S]*index sessions_userId_idx on sessions: the migrations have it and the live database lacks it/m);
            // schema.prisma: the field and the index on GlobalUser, the new model, comments kept, Prisma's own model check clean.
            const merged = fs.readFileSync(path.join(variant, "prisma/schema.prisma"), "utf8");
            assert.equal(result.schemaNotChanged, undefined, result.schemaNotChanged);
            assert.equal(result.modelCheck?.status, "clean");
            assert.match(merged, /^\/\/ Cartie API data model \(sample replica\)\./m, "a comment was lost");
            const globalUser = /model GlobalUser \{[^}]*\}/.exec(merged)?.[0] ?? "";
            assert.match(globalUser, /\n {2}nickname\s+String\?\s+@db\.VarChar\(40\)\n/);
            assert.match(globalUser, /\n {2}@@index\(\[role\]\)\n/);
            assert.match(globalUser, /\n {2}@@map\("users"\)\n/);
            assert.match(merged, /model audit_log \{/);
            assert.ok(result.schemaChanges.some((c) => /model GlobalUser: field nickname added/.test(c)), result.schemaChanges.join("\n"));
        });

        it("the Migration step marks the fix applied without running it (the check shows the live schema matches), every row kept, the check clean after", async () => {
            const local = readMigrations(path.join(variant, "prisma/migrations"));
            const target = hostMigrationTarget(pg, db, variant);
            const { log } = await runMigrations(target, local.map((m) => m.name), BASELINE, [PASSWORD], driftHooks(hostDriftTarget(pg, db), local, parsePrismaSchema(fs.readFileSync(path.join(variant, "prisma/schema.prisma"), "utf8"))));
            assert.deepEqual(target.prismaCalls, [["migrate", "resolve", "--applied", "v43_fix_schema_drift"]], log.join("\n"));
            assert.match(log.join("\n"), /the live database already has what v43_fix_schema_drift records: it is marked applied, not run/);
            assert.equal(`${await fingerprint(db)}|${await pg.psql(db, "SELECT count(*) FROM audit_log;")}`, before, "rows changed");
            assert.deepEqual(
                (await pg.psql(db, `SELECT migration_name || ':' || (finished_at IS NOT NULL) FROM ${HISTORY_TABLE} ORDER BY 1;`)).trim().split("\n"),
                ["v41_baseline:true", "v42_add_sessions:true", "v43_fix_schema_drift:true"],
            );
            const after = await checkLive(new DriftSession(hostDriftTarget(pg, db), local), { applied: local.map((m) => m.name), model });
            assert.deepEqual(codes(after.findings), ["DRIFT_INDEX_MISSING index sessions_userId_idx on sessions"], "only what was deliberately not recorded is left");
            // A second run has nothing to do.
            const again = hostMigrationTarget(pg, db, variant);
            await runMigrations(again, local.map((m) => m.name), BASELINE, [PASSWORD], driftHooks(hostDriftTarget(pg, db), local));
            assert.deepEqual(again.prismaCalls, []);
        });

        it("on a database without the drift (a fresh one), the same fix runs like any migration and gives the drifted schema", async () => {
            const fresh = `d_${id}_fresh`;
            await pg.createDatabase(fresh);
            const local = readMigrations(path.join(variant, "prisma/migrations"));
            const target = hostMigrationTarget(pg, fresh, variant);
            await runMigrations(target, local.map((m) => m.name), BASELINE, [PASSWORD], driftHooks(hostDriftTarget(pg, fresh), local));
            assert.deepEqual(target.prismaCalls, [["migrate", "deploy"]]);
            const c = await checkLive(new DriftSession(hostDriftTarget(pg, fresh), local), { applied: local.map((m) => m.name) });
            assert.deepEqual(codes(c.findings), []);
        });
    });

    describe("the Migration step's check", () => {
        it("stops before anything changes when the live schema differs in a way the pending migrations do not fix, naming each difference", async () => {
            const db = `d_${id}_block`;
            await pg.createDatabase(db);
            // Only the baseline applied (by Prisma), then a hand change; v42 is pending.
            const v41 = apiVariant(apiDir, {});
            cleanup.dir(v41);
            fs.rmSync(path.join(v41, "prisma/migrations/v42_add_sessions"), { recursive: true });
            await runMigrations(hostMigrationTarget(pg, db, v41), [BASELINE], BASELINE, [PASSWORD]);
            await pg.psql(db, `ALTER TABLE users ALTER COLUMN email DROP NOT NULL; INSERT INTO users (id, email, "passwordHash") VALUES ('x', NULL, 'h');`);
            const before = await fingerprint(db).catch(() => "");
            const target = hostMigrationTarget(pg, db, apiDir);
            const err = await runMigrations(target, names, BASELINE, [PASSWORD], driftHooks(hostDriftTarget(pg, db), migrations, model)).then(
                () => assert.fail("the migration ran on a drifted schema"),
                (e: unknown) => e,
            );
            assert.ok(err instanceof MigrationError, String(err));
            assert.match(err.message, /^migration refused \(SCHEMA_DRIFT\): the live schema differs from the migrations in 1 way\(s\) the pending migrations \(v42_add_sessions\) do not fix:/);
            assert.match(err.message, /DRIFT_COLUMN_CHANGED column users\.email: nullability: NOT NULL → NULL/);
            assert.match(err.message, /GlobalUser\.email may hold NULL live/);
            assert.match(err.message, /nothing was changed: no backup, no Prisma command/);
            assert.deepEqual(target.prismaCalls, [], "a Prisma command ran");
            assert.equal(await fingerprint(db).catch(() => ""), before);
            assert.deepEqual((await pg.psql(db, `SELECT migration_name FROM ${HISTORY_TABLE};`)).trim().split("\n"), [BASELINE]);
        });

        it("stops when a pending migration would fail on the hand-changed schema (a column added by hand that it adds too)", async () => {
            const db = await migratedDb();
            await pg.psql(db, `ALTER TABLE users ADD COLUMN nickname text;`);
            const v43 = "v43_add_nickname";
            const variant = apiVariant(apiDir, { [v43]: `ALTER TABLE "users" ADD COLUMN "nickname" TEXT;\n` });
            cleanup.dir(variant);
            const local = readMigrations(path.join(variant, "prisma/migrations"));
            const target = hostMigrationTarget(pg, db, variant);
            const err = await runMigrations(target, local.map((m) => m.name), BASELINE, [PASSWORD], driftHooks(hostDriftTarget(pg, db), local, model)).then(
                () => assert.fail("the colliding migration ran"),
                (e: unknown) => e,
            );
            assert.ok(err instanceof MigrationError);
            assert.match(err.message, /pending migration v43_add_nickname would fail on the live schema: .*column "nickname" of relation "users" already exists/);
            assert.match(err.message, /DRIFT_COLUMN_EXTRA column users\.nickname/);
            assert.deepEqual(target.prismaCalls, []);
        });

        it("does not stop a pending migration that is broken on any database (not drift): it runs and fails as before", async () => {
            const db = await migratedDb();
            const broken = "v43_breaks";
            const variant = apiVariant(apiDir, { [broken]: `SELECT 1 / 0;\n` });
            cleanup.dir(variant);
            const local = readMigrations(path.join(variant, "prisma/migrations"));
            const target = hostMigrationTarget(pg, db, variant);
            const err = await runMigrations(target, local.map((m) => m.name), BASELINE, [PASSWORD], driftHooks(hostDriftTarget(pg, db), local, model)).then(
                () => assert.fail("a broken migration succeeded"),
                (e: unknown) => e,
            );
            assert.ok(err instanceof MigrationError);
            assert.match(err.message, /prisma migrate deploy failed \(exit \d+\) in migration v43_breaks/);
            assert.match(err.log.join("\n"), /v43_breaks fails on a database built by the migrations too \(not drift\)/);
        });

        it("the incident's host (the baseline's tables by hand, no history, a table of its own): handled as today, then checked", async () => {
            const db = `d_${id}_incident`;
            await pg.createDatabase(db);
            await pg.psql(db, migrations[0].sql);
            await pg.psql(db, `INSERT INTO users (id, email, "passwordHash") VALUES ('legacy-1', 'one@cartie.test', 'h1'), ('legacy-2', 'two@cartie.test', 'h2');
                CREATE TABLE audit_log (id serial PRIMARY KEY, at timestamptz NOT NULL, note text); INSERT INTO audit_log (at, note) VALUES (now(), 'kept');`);
            const target = hostMigrationTarget(pg, db, apiDir);
            const { log } = await runMigrations(target, names, BASELINE, [PASSWORD], driftHooks(hostDriftTarget(pg, db), migrations, model));
            const text = log.join("\n");
            assert.deepEqual(target.prismaCalls, [["migrate", "resolve", "--applied", BASELINE], ["migrate", "deploy"]]);
            // Before: against the baseline the database is taken to have; audit_log is reported, and stops nothing.
            assert.match(text, /drift check: the live schema differs from what the applied migrations produce \(v41_baseline\) in 1 way\(s\):\n {2}warn DRIFT_TABLE_EXTRA table audit_log: 3 column\(s\): at, id, note \[1 row\]\n/);
            assert.match(text, /drift check after migrating: 1 difference\(s\) from what every migration produces:\n {2}warn DRIFT_TABLE_EXTRA table audit_log/);
            assert.ok(text.indexOf("drift check:") < text.indexOf("$ prisma"), "the check ran after the first Prisma command");
            assert.equal((await pg.psql(db, "SELECT count(*) FROM users;")).trim(), "2");
            assert.equal((await pg.psql(db, "SELECT note FROM audit_log;")).trim(), "kept");
        });

        it("a scratch database a killed run left is dropped by the next check once it is an hour old; a fresh one is left alone", async () => {
            const db = await migratedDb();
            const old = scratchName("build", new Date(Date.now() - 2 * 3600_000));
            const young = scratchName("build", new Date());
            await pg.psql("postgres", `CREATE DATABASE ${old}; CREATE DATABASE ${young};`);
            const swept = await new DriftSession(hostDriftTarget(pg, db), migrations).sweep();
            assert.deepEqual(swept, [old]);
            assert.equal((await scratchLeft()).trim(), young);
            await pg.psql("postgres", `DROP DATABASE ${young};`);
        });
    });
});
