/**
 * The program's migration plan (lib/migration/run.ts `runMigrations`) against real PostgreSQL 15
 * and the sample api's real Prisma 6.19.3 CLI, on the three database states of the incident
 * and on a failed migration. One throwaway host cluster, one database per state.
 */
import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as path from "node:path";
import { HISTORY_TABLE } from "../../../lib/migration/plan";
import { MigrationError, runMigrations } from "../../../lib/migration/run";
import { DEFAULTS } from "../../../lib/config";
import { HostPostgres } from "../support/hostPostgres";
import { apiVariant, hostMigrationTarget } from "../support/hostMigrationTarget";
import { Cleanup, runId } from "../support/run";
import { MIGRATIONS_DIR, hostApi, sampleMigrations } from "../support/sample";

const BASELINE = DEFAULTS.migrationBaseline;
const FAILING = "v43_add_nickname_fails";
const PASSWORD = `real-pg-${runId()}-${runId()}`;

describe("real: migration plan on PostgreSQL 15 with the sample's Prisma 6.19.3", function () {
    const cleanup = new Cleanup();
    let pg: HostPostgres;
    let apiDir: string;
    const local = sampleMigrations();
    const secrets = (db: string): string[] => [PASSWORD, pg.url(db)];
    const id = runId();
    const EMPTY = `m_empty_${id}`;
    const INCIDENT = `m_incident_${id}`;

    const users = async (db: string): Promise<string> => pg.psql(db, `SELECT id, email, "passwordHash" FROM users ORDER BY id;`);
    const history = async (db: string): Promise<string[]> =>
        (await pg.psql(db, `SELECT migration_name, finished_at IS NOT NULL, rolled_back_at IS NOT NULL FROM ${HISTORY_TABLE} ORDER BY migration_name;`)).trim().split("\n").filter(Boolean);
    const tables = async (db: string): Promise<string[]> =>
        (await pg.psql(db, "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name;")).trim().split("\n").filter(Boolean);

    before(async function () {
        assert.ok(local.includes(BASELINE) && local.length >= 2, `the sample must ship ${BASELINE} and a later migration, found ${local.join(", ")}`);
        apiDir = await hostApi();
        pg = await HostPostgres.start(PASSWORD);
        cleanup.add("host postgres", () => pg.stop());
        await pg.createDatabase(EMPTY);
        await pg.createDatabase(INCIDENT);
    });

    after(async () => {
        await cleanup.run();
    });

    it("empty database: applies every migration, in one `prisma migrate deploy`", async () => {
        const target = hostMigrationTarget(pg, EMPTY, apiDir);
        const { plan, log } = await runMigrations(target, local, BASELINE, secrets(EMPTY));
        assert.ok(plan.ok);
        assert.deepEqual(plan.steps, [{ kind: "deploy", pending: local }]);
        assert.deepEqual(target.prismaCalls, [["migrate", "deploy"]]);
        assert.deepEqual(await history(EMPTY), local.map((m) => `${m}|t|f`));
        assert.deepEqual(await tables(EMPTY), [HISTORY_TABLE, "sessions", "users"]);
        assert.ok(log.includes("done: database is current"), log.join("\n"));
        assert.ok(!log.join("\n").includes(PASSWORD), "the log shows the database password");
    });

    it("the incident's database (tables and rows, no history): real Prisma refuses with P3005; the plan marks the baseline, applies the rest, keeps every row", async () => {
        const baselineSql = fs.readFileSync(path.join(MIGRATIONS_DIR, BASELINE, "migration.sql"), "utf8");
        await pg.psql(INCIDENT, baselineSql);
        await pg.psql(INCIDENT, `INSERT INTO users (id, email, "passwordHash", role) VALUES ('legacy-1', 'one@cartie.test', 'h1', 'user'), ('legacy-2', 'two@cartie.test', 'h2', 'admin');`);
        const before = await users(INCIDENT);
        assert.equal(before.trim().split("\n").length, 2);

        const target = hostMigrationTarget(pg, INCIDENT, apiDir);
        // The premise of the plan, from Prisma itself: a plain deploy is refused on this database.
        const plain = await target.prisma(["migrate", "deploy"]);
        assert.notEqual(plain.code, 0, "prisma migrate deploy succeeded on a database without history");
        assert.match(plain.output, /P3005/);
        target.prismaCalls.length = 0;

        const { plan, log } = await runMigrations(target, local, BASELINE, secrets(INCIDENT));
        assert.ok(plan.ok);
        assert.equal(plan.steps[0].kind, "resolve-applied");
        assert.deepEqual(target.prismaCalls, [["migrate", "resolve", "--applied", BASELINE], ["migrate", "deploy"]]);
        assert.deepEqual(await history(INCIDENT), local.map((m) => `${m}|t|f`));
        assert.deepEqual(await tables(INCIDENT), [HISTORY_TABLE, "sessions", "users"]);
        assert.equal(await users(INCIDENT), before, "rows changed or were lost");
        assert.match(log.join("\n"), new RegExp(`mark ${BASELINE} as applied: tables exist \\(users\\) but there is no migration history`));
    });

    it("an already current database: nothing runs, no Prisma command at all, rows untouched", async () => {
        await pg.psql(EMPTY, `INSERT INTO users (id, email, "passwordHash") VALUES ('u-1', 'kept@cartie.test', 'h');`);
        const rowsBefore = await users(EMPTY);
        const historyBefore = await pg.psql(EMPTY, `SELECT migration_name, finished_at, applied_steps_count FROM ${HISTORY_TABLE} ORDER BY 1;`);

        const target = hostMigrationTarget(pg, EMPTY, apiDir);
        const { plan, log } = await runMigrations(target, local, BASELINE, secrets(EMPTY));
        assert.ok(plan.ok);
        assert.deepEqual(plan.steps, []);
        assert.deepEqual(target.prismaCalls, [], "a Prisma command ran on a current database");
        assert.ok(log.includes("done: nothing to apply"), log.join("\n"));
        assert.equal(await users(EMPTY), rowsBefore);
        assert.equal(await pg.psql(EMPTY, `SELECT migration_name, finished_at, applied_steps_count FROM ${HISTORY_TABLE} ORDER BY 1;`), historyBefore);
    });

    describe("a failed migration", () => {
        let variant: string;
        let withFailing: string[];
        let rowsBefore: string;
        before(async () => {
            variant = apiVariant(apiDir, { [FAILING]: `ALTER TABLE "users" ADD COLUMN "nickname" TEXT;\nSELECT 1 / 0;\n` });
            cleanup.dir(variant);
            withFailing = sampleMigrations(path.join(variant, "prisma/migrations"));
            rowsBefore = await users(INCIDENT);
        });

        it("the run that hits it fails, naming the migration and the recovery command, with rows kept", async () => {
            assert.deepEqual(withFailing, [...local, FAILING]);
            const first = hostMigrationTarget(pg, INCIDENT, variant);
            const err = await runMigrations(first, withFailing, BASELINE, secrets(INCIDENT)).then(
                () => assert.fail("a failing migration was reported as applied"),
                (e: unknown) => e,
            );
            assert.ok(err instanceof MigrationError, String(err));
            assert.deepEqual(first.prismaCalls, [["migrate", "deploy"]]);
            assert.deepEqual(await history(INCIDENT), [...local.map((m) => `${m}|t|f`), `${FAILING}|f|f`]);
            assert.equal(await users(INCIDENT), rowsBefore, "rows changed or were lost");
            assert.ok(!err.log.join("\n").includes(PASSWORD), "the log shows the database password");
            const shown = `${err.message}\n--- log ---\n${err.log.join("\n")}`;
            assert.match(err.message, new RegExp(`prisma migrate deploy failed \\(exit \\d+\\) in migration ${FAILING}`), shown);
            assert.match(err.message, new RegExp(`npx prisma migrate resolve --rolled-back ${FAILING}`), shown);
        });

        it("real Prisma then refuses with P3009, and the next run is refused by the plan with the name and the recovery, before any Prisma command", async () => {
            const history0 = await history(INCIDENT);
            assert.deepEqual(history0, [...local.map((m) => `${m}|t|f`), `${FAILING}|f|f`], "the previous test did not leave a failed migration");
            const probe = hostMigrationTarget(pg, INCIDENT, variant);
            const plain = await probe.prisma(["migrate", "deploy"]);
            assert.notEqual(plain.code, 0);
            assert.match(plain.output, /P3009/);
            assert.match(plain.output, new RegExp(FAILING));

            const second = hostMigrationTarget(pg, INCIDENT, variant);
            const err = await runMigrations(second, withFailing, BASELINE, secrets(INCIDENT)).then(
                () => assert.fail("the plan ran on top of a failed migration"),
                (e: unknown) => e,
            );
            assert.ok(err instanceof MigrationError, String(err));
            assert.match(err.message, new RegExp(`^migration refused \\(P3009\\): migration "${FAILING}" failed earlier`));
            assert.match(err.message, new RegExp(`npx prisma migrate resolve --rolled-back ${FAILING}`));
            assert.match(err.message, new RegExp(`npx prisma migrate resolve --applied ${FAILING}`));
            assert.deepEqual(second.prismaCalls, [], "a Prisma command ran after a failed migration");
            assert.deepEqual(await history(INCIDENT), history0);
            assert.equal(await users(INCIDENT), rowsBefore, "rows changed or were lost");
        });
    });
});
