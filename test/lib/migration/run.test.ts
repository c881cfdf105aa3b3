import { strict as assert } from "node:assert";
import { MigrationError, MigrationTarget, failedMigrationName, runMigrations } from "../../../lib/migration/run";

/**
 * An in-memory database that answers the two state queries and records the Prisma commands, to
 * test the orchestration; real Postgres and real Prisma run the same code in test/real.
 */
function memoryTarget(opts: { tables: string[]; history?: [string, boolean, boolean][]; prismaFails?: { args: string; output: string } }): MigrationTarget & { ran: string[] } {
    const ran: string[] = [];
    return {
        ran,
        psql(sql) {
            if (sql.includes("'table'")) {
                const rows = opts.tables.map((t) => `table|${t}||`);
                if (opts.history) rows.push("history-table|_prisma_migrations||");
                return Promise.resolve(rows.join("\n"));
            }
            return Promise.resolve((opts.history ?? []).map(([n, f, r]) => `migration|${n}|${f}|${r}`).join("\n"));
        },
        prisma(args) {
            ran.push(args.join(" "));
            if (opts.prismaFails && args.join(" ") === opts.prismaFails.args) return Promise.resolve({ code: 1, output: opts.prismaFails.output });
            return Promise.resolve({ code: 0, output: `ok ${args.join(" ")}` });
        },
    };
}

const local = ["v41_baseline", "v42_add_sessions"];
const secret = "pw-that-must-not-show";

describe("running a migration plan", () => {
    it("finds the failed migration's name in either Prisma engine's words", () => {
        assert.equal(failedMigrationName('Error querying the database: ERROR: division by zero\n   0: schema_core::commands::apply_migrations\n           with migration_name="v43_add_nickname_fails"'), "v43_add_nickname_fails");
        assert.equal(failedMigrationName("A migration failed to apply.\nMigration name: v42_add_sessions\n"), "v42_add_sessions");
        assert.equal(failedMigrationName("Error: P1001: Can't reach database server"), undefined);
    });

    it("resolves the baseline before deploying, in that order", async () => {
        const target = memoryTarget({ tables: ["users"] });
        const { log } = await runMigrations(target, local, "v41_baseline", [secret]);
        assert.deepEqual(target.ran, ["migrate resolve --applied v41_baseline", "migrate deploy"]);
        assert.match(log.join("\n"), /no migration history[\s\S]*plan: mark v41_baseline[\s\S]*\$ prisma migrate deploy[\s\S]*done: database is current/);
    });

    it("runs nothing on a current database", async () => {
        const target = memoryTarget({ tables: ["users", "sessions"], history: [["v41_baseline", true, false], ["v42_add_sessions", true, false]] });
        const { log } = await runMigrations(target, local, "v41_baseline", [secret]);
        assert.deepEqual(target.ran, []);
        assert.match(log.at(-1) ?? "", /nothing to apply/);
    });

    it("refuses a failed migration without running Prisma", async () => {
        const target = memoryTarget({ tables: ["users"], history: [["v41_baseline", true, false], ["v42_add_sessions", false, false]] });
        await assert.rejects(runMigrations(target, local, "v41_baseline", [secret]), (err: Error) => {
            assert.ok(err instanceof MigrationError);
            assert.match(err.message, /P3009[\s\S]*v42_add_sessions[\s\S]*migrate resolve --rolled-back v42_add_sessions/);
            return true;
        });
        assert.deepEqual(target.ran, []);
    });

    it("stops at a failing step, names the migration and masks the output", async () => {
        const output = `Error: P3018\nA migration failed to apply.\nMigration name: v42_add_sessions\nDatabase error: could not connect to postgresql://cartie:${secret}@db:5432/cartie`;
        const target = memoryTarget({ tables: [], prismaFails: { args: "migrate deploy", output } });
        await assert.rejects(runMigrations(target, local, "v41_baseline", [secret]), (err: Error) => {
            assert.ok(err instanceof MigrationError);
            assert.match(err.message, /prisma migrate deploy failed \(exit 1\) in migration v42_add_sessions/);
            const all = `${err.message}\n${err.log.join("\n")}`;
            assert.ok(!all.includes(secret), "a secret reached the migration log");
            assert.match(all, /postgresql:\/\/cartie:\*\*\*@db/);
            return true;
        });
    });
});

describe("the pre-migration backup hook", () => {
    it("runs once, after planning and before the first Prisma command, when the plan changes something", async () => {
        const target = memoryTarget({ tables: ["users"] });
        const order: string[] = [];
        const prisma = target.prisma.bind(target);
        target.prisma = (args) => {
            order.push(`prisma ${args.join(" ")}`);
            return prisma(args);
        };
        const { log } = await runMigrations(target, local, "v41_baseline", [secret], {
            beforeChanges: (plan, say) => {
                order.push(`backup before ${plan.steps.map((s) => s.kind).join("+")}`);
                say(`backup: wrote x.sql with ${secret}`);
                return Promise.resolve();
            },
        });
        assert.deepEqual(order, ["backup before resolve-applied+deploy", "prisma migrate resolve --applied v41_baseline", "prisma migrate deploy"]);
        assert.ok(log.includes("backup: wrote x.sql with ***"), "the hook's lines are logged, masked");
    });

    it("is not called when nothing is pending: a re-run takes no backup and runs no Prisma command", async () => {
        const target = memoryTarget({ tables: ["users", "sessions"], history: [["v41_baseline", true, false], ["v42_add_sessions", true, false]] });
        let called = false;
        await runMigrations(target, local, "v41_baseline", [secret], {
            beforeChanges: () => {
                called = true;
                return Promise.resolve();
            },
        });
        assert.equal(called, false);
        assert.deepEqual(target.ran, []);
    });

    it("a backup that fails stops the migration before any Prisma command, naming the cause", async () => {
        const target = memoryTarget({ tables: ["users"], history: [["v41_baseline", true, false]] });
        await assert.rejects(
            runMigrations(target, local, "v41_baseline", [secret], { beforeChanges: () => Promise.reject(new Error("backup not taken: the backup folder /b is full (no space left on device)")) }),
            (err: Error) => {
                assert.ok(err instanceof MigrationError);
                assert.match(err.message, /migration not run: backup not taken: the backup folder \/b is full[\s\S]*nothing was changed/);
                return true;
            },
        );
        assert.deepEqual(target.ran, []);
    });
});
