import { strict as assert } from "node:assert";
import { DatabaseState, parseStateRows, planMigrations, prismaArgs } from "../../../lib/migration/plan";

const local = ["v41_baseline", "v42_add_sessions", "v43_audit_log"];
const applied = (...names: string[]): DatabaseState["history"] => names.map((name) => ({ name, finished: true, rolledBack: false }));

describe("migration planning", () => {
    it("applies everything to an empty database", () => {
        const plan = planMigrations({ appTables: [], hasHistoryTable: false, history: [] }, local, "v41_baseline");
        assert.ok(plan.ok);
        assert.deepEqual(plan.steps, [{ kind: "deploy", pending: local }]);
        assert.deepEqual(plan.steps.map(prismaArgs), [["migrate", "deploy"]]);
    });

    it("marks the baseline applied when tables exist without history (the incident), then deploys the rest", () => {
        const plan = planMigrations({ appTables: ["users"], hasHistoryTable: false, history: [] }, local, "v41_baseline");
        assert.ok(plan.ok);
        assert.deepEqual(plan.steps.map(prismaArgs), [["migrate", "resolve", "--applied", "v41_baseline"], ["migrate", "deploy"]]);
        assert.deepEqual(plan.steps[1], { kind: "deploy", pending: ["v42_add_sessions", "v43_audit_log"] });
        assert.match(plan.summary, /mark v41_baseline as applied: tables exist \(users\).*P3005.*then apply 2 pending/);
    });

    it("treats an empty history table like no history", () => {
        const plan = planMigrations({ appTables: ["users"], hasHistoryTable: true, history: [] }, local, "v41_baseline");
        assert.ok(plan.ok && plan.steps[0].kind === "resolve-applied");
    });

    it("does nothing on a current database", () => {
        const plan = planMigrations({ appTables: ["sessions", "users"], hasHistoryTable: true, history: applied(...local) }, local, "v41_baseline");
        assert.ok(plan.ok);
        assert.deepEqual(plan.steps, []);
        assert.match(plan.summary, /current \(3 migrations applied\); nothing to do/);
    });

    it("deploys only what is pending", () => {
        const plan = planMigrations({ appTables: ["users"], hasHistoryTable: true, history: applied("v41_baseline") }, local, "v41_baseline");
        assert.ok(plan.ok);
        assert.deepEqual(plan.steps, [{ kind: "deploy", pending: ["v42_add_sessions", "v43_audit_log"] }]);
    });

    it("refuses a failed migration (P3009) with its name and the recovery command", () => {
        const plan = planMigrations(
            { appTables: ["users"], hasHistoryTable: true, history: [...applied("v41_baseline"), { name: "v42_add_sessions", finished: false, rolledBack: false }] },
            local,
            "v41_baseline",
        );
        assert.ok(!plan.ok);
        assert.equal(plan.code, "P3009");
        assert.match(plan.error, /"v42_add_sessions" failed/);
        assert.match(plan.recovery, /prisma migrate resolve --rolled-back v42_add_sessions/);
    });

    it("lets a rolled-back migration be applied again", () => {
        const plan = planMigrations(
            { appTables: ["users"], hasHistoryTable: true, history: [...applied("v41_baseline"), { name: "v42_add_sessions", finished: false, rolledBack: true }] },
            local,
            "v41_baseline",
        );
        assert.ok(plan.ok);
        assert.deepEqual(plan.steps, [{ kind: "deploy", pending: ["v42_add_sessions", "v43_audit_log"] }]);
    });

    it("refuses to run older code than the database (a stale image)", () => {
        const plan = planMigrations({ appTables: ["users"], hasHistoryTable: true, history: applied(...local, "v44_future") }, local, "v41_baseline");
        assert.ok(!plan.ok);
        assert.equal(plan.code, "UNKNOWN_MIGRATIONS");
        assert.match(plan.error, /v44_future/);
    });

    it("refuses when tables exist without history and the baseline is not shipped", () => {
        const plan = planMigrations({ appTables: ["users"], hasHistoryTable: false, history: [] }, local, "v40_gone");
        assert.ok(!plan.ok);
        assert.equal(plan.code, "NO_BASELINE");
        assert.match(plan.recovery, /cartie:migrationBaseline/);
    });

    it("parses psql's unaligned output", () => {
        const state = parseStateRows("table|users||\ntable|audit||\nhistory-table|_prisma_migrations||\nmigration|v41_baseline|true|false\nmigration|v42_add_sessions|false|true\n");
        assert.deepEqual(state, {
            appTables: ["audit", "users"],
            hasHistoryTable: true,
            history: [
                { name: "v41_baseline", finished: true, rolledBack: false },
                { name: "v42_add_sessions", finished: false, rolledBack: true },
            ],
        });
    });
});

describe("a migration interrupted mid-way", () => {
    const state = (interrupted: boolean): DatabaseState => ({
        appTables: ["users"],
        hasHistoryTable: true,
        history: [...applied("v41_baseline", "v42_add_sessions"), { name: "v43_add_nickname", finished: false, rolledBack: false, interrupted }],
    });

    it("is told apart from a failed one, and the recovery names the backup taken before it with the exact command", () => {
        const plan = planMigrations(state(true), ["v41_baseline", "v42_add_sessions", "v43_add_nickname"], "v41_baseline", (m) =>
            m === "v43_add_nickname" ? { file: "backups/20261202T010000Z-pre-migration-cartie-dev.sql", takenAt: "2026-12-02T01:00:00.000Z" } : undefined,
        );
        assert.equal(plan.ok, false);
        if (plan.ok) return;
        assert.equal(plan.code, "P3009");
        assert.match(plan.error, /migration "v43_add_nickname" started and never finished: the run applying it was interrupted/);
        assert.match(plan.recovery, /`npm run restore-backup -- backups\/20261202T010000Z-pre-migration-cartie-dev\.sql`, then `pulumi up` applies v43_add_nickname again/);
        assert.match(plan.recovery, /migrate resolve --rolled-back v43_add_nickname/);
    });

    it("without a backup it says so, and how to mark the migration", () => {
        const plan = planMigrations(state(true), ["v41_baseline", "v42_add_sessions", "v43_add_nickname"], "v41_baseline", () => undefined);
        assert.ok(!plan.ok && /no backup taken before it was found/.test(plan.recovery));
    });

    it("reads `interrupted` from the history: unfinished, not rolled back, no logs", () => {
        const parsed = parseStateRows("history-table|_prisma_migrations||\nmigration|v43_a|false|false|true\nmigration|v44_b|false|false|false\nmigration|v42|true|false|true\n");
        assert.deepEqual(parsed.history, [
            { name: "v43_a", finished: false, rolledBack: false, interrupted: true },
            { name: "v44_b", finished: false, rolledBack: false },
            { name: "v42", finished: true, rolledBack: false },
        ]);
    });
});
