import { strict as assert } from "node:assert";
import { SCRATCH_STALE_SECONDS, adapterStatements, scratchName, staleScratch } from "../../../lib/drift/check";
import { classifyAll } from "../../../lib/drift/classify";
import { diffSchemas } from "../../../lib/drift/diff";
import { DriftReport } from "../../../lib/drift/host";
import { driftFindings, withDrift } from "../../../lib/doctor/drift";
import { DOCTOR_SCHEMA_VERSION, DoctorReport } from "../../../lib/doctor/types";
import { MigrationError, MigrationTarget, appliedOrAssumed, markApplied, runMigrations } from "../../../lib/migration/run";
import { clone, col, sample, table } from "./fixtures";

const local = ["v41_baseline", "v42_add_sessions", "v43_fix_schema_drift"];

/** An in-memory database answering the plan's two queries, recording the Prisma commands (test/lib/migration/run.test.ts has its twin). */
function memoryTarget(history: string[]): MigrationTarget & { ran: string[] } {
    const ran: string[] = [];
    return {
        ran,
        psql: (sql) =>
            Promise.resolve(
                sql.includes("'table'") ? ["table|users||", "table|sessions||", "history-table|_prisma_migrations||"].join("\n") : history.map((n) => `migration|${n}|true|false`).join("\n"),
            ),
        prisma(args) {
            ran.push(args.join(" "));
            return Promise.resolve({ code: 0, output: "" });
        },
    };
}

describe("drift: the Migration step's hooks (lib/migration/run.ts)", () => {
    it("a refusing check stops before the backup and before any Prisma command, as SCHEMA_DRIFT", async () => {
        const target = memoryTarget(["v41_baseline"]);
        let backedUp = false;
        await assert.rejects(
            runMigrations(target, local, "v41_baseline", [], {
                checkSchema: () => Promise.reject(new Error("the live schema differs from the migrations in 1 way(s)")),
                beforeChanges: () => {
                    backedUp = true;
                    return Promise.resolve();
                },
            }),
            (err: Error) => err instanceof MigrationError && /^migration refused \(SCHEMA_DRIFT\): the live schema differs/.test(err.message),
        );
        assert.deepEqual(target.ran, []);
        assert.equal(backedUp, false);
    });

    it("gets what the database has applied, or is taken to have once the baseline is resolved", async () => {
        const seen: string[][] = [];
        await runMigrations(memoryTarget(["v41_baseline"]), local, "v41_baseline", [], { checkSchema: (applied) => (seen.push(applied), Promise.resolve({ alreadyApplied: [] })) });
        assert.deepEqual(seen, [["v41_baseline"]]);
        const plan = { ok: true as const, steps: [{ kind: "resolve-applied" as const, migration: "v41_baseline", why: "" }, { kind: "deploy" as const, pending: ["v42_add_sessions"] }], summary: "" };
        assert.deepEqual(appliedOrAssumed({ appTables: ["users"], hasHistoryTable: false, history: [] }, plan, local), ["v41_baseline"]);
    });

    it("marks a drift fix the live database already has applied instead of running it, and deploys what follows", async () => {
        const target = memoryTarget(["v41_baseline", "v42_add_sessions"]);
        const after: string[] = [];
        const { plan } = await runMigrations(target, [...local, "v44_next"], "v41_baseline", [], {
            checkSchema: () => Promise.resolve({ alreadyApplied: ["v43_fix_schema_drift"] }),
            afterChanges: () => (after.push("checked"), Promise.resolve()),
        });
        assert.deepEqual(target.ran, ["migrate resolve --applied v43_fix_schema_drift", "migrate deploy"]);
        assert.ok(plan.ok);
        assert.match(plan.ok ? plan.summary : "", /^mark v43_fix_schema_drift as applied: the live database already has what it records[\s\S]*; then apply 1 pending migration\(s\): v44_next$/);
        assert.deepEqual(after, ["checked"]);
        const only = markApplied({ ok: true, steps: [{ kind: "deploy", pending: ["v43_fix_schema_drift"] }], summary: "" }, ["v43_fix_schema_drift"]);
        assert.deepEqual(only.steps.map((s) => s.kind), ["resolve-applied"]);
    });

    it("a check after the Prisma commands that finds an error fails the step (the api is not replaced)", async () => {
        await assert.rejects(
            runMigrations(memoryTarget(["v41_baseline"]), local, "v41_baseline", [], {
                checkSchema: () => Promise.resolve({ alreadyApplied: [] }),
                afterChanges: () => Promise.reject(new Error("the live schema still differs from the migrations")),
            }),
            /^MigrationError: migration ran, but the live schema still differs/,
        );
    });
});

describe("drift: scratch databases and the adapter's statements", () => {
    it("names scratch databases by the time they were made, and only old ones are leftovers", () => {
        const now = new Date("2026-12-02T10:00:00Z");
        const fresh = scratchName("build", now, "abcd1234");
        assert.equal(fresh, `cartie_drift_${Math.floor(now.getTime() / 1000)}_abcd1234_build`);
        assert.ok(fresh.length <= 63, "PostgreSQL cuts identifiers at 63 bytes");
        const old = scratchName("pending", new Date(now.getTime() - (SCRATCH_STALE_SECONDS + 1) * 1000), "00ff00ff");
        assert.deepEqual(staleScratch([fresh, old, "cartie", "cartie_drift_notmine"], now), [old]);
    });

    it("splits a script on every `;`, as Prisma 6.19.3's Postgres adapter does, comments included", () => {
        assert.deepEqual(adapterStatements("-- a; b\nCREATE TABLE x (a int);\n\nSELECT ';';"), ["-- a", "b\nCREATE TABLE x (a int)", "SELECT '", "'"]);
    });
});

describe("drift: the doctor's findings", () => {
    const base: DoctorReport = { schemaVersion: DOCTOR_SCHEMA_VERSION, stack: "dev", healthy: true, containers: [], findings: [], probes: [], notes: [] };
    const report = (over: Partial<DriftReport>): DriftReport => ({
        schemaVersion: 1,
        stack: "dev",
        db: { container: "cartie-dev-db", user: "cartie", database: "cartie" },
        applied: ["v41_baseline", "v42_add_sessions"],
        pending: [],
        live: { status: "clean", findings: [], driftFixesPresent: [], blocking: [] },
        model: { status: "clean" },
        notes: [],
        ...over,
    });

    it("one SCHEMA_DRIFT per difference, with what it means for the api and what pulumi up does; an error makes the host unhealthy, a warning does not", () => {
        const live = clone(sample());
        table(live, "users").columns.push(col("nickname", "text", false));
        table(live, "users").columns = table(live, "users").columns.filter((c) => c.name !== "role");
        const findings = classifyAll(diffSchemas(sample(), live), { expected: sample(), live });
        const r = withDrift(base, report({ live: { status: "drift", findings, driftFixesPresent: [], blocking: findings.filter((f) => f.severity === "error") } }));
        assert.deepEqual(r.findings.map((f) => `${f.code} ${f.severity} ${f.drift?.code}`), ["SCHEMA_DRIFT error DRIFT_COLUMN_MISSING", "SCHEMA_DRIFT warn DRIFT_COLUMN_EXTRA"]);
        assert.equal(r.healthy, false);
        assert.equal(r.findings[0].container, "cartie-dev-db");
        assert.match(r.findings[0].cause, /^column users\.role is in the migrations but not in the live database$/);
        assert.match(r.findings[0].pulumiUp, /the Migration step stops before it changes anything/);
        assert.match(r.findings[1].pulumiUp, /^nothing: the Migration step logs it and goes on$/);
        assert.equal(withDrift(base, report({ live: { status: "drift", findings: findings.slice(1), driftFixesPresent: [], blocking: [] } })).healthy, true);
    });

    it("one MODEL_DRIFT per model, and a note (not a finding) for a check that could not run", () => {
        const model = { status: "drift" as const, changes: [{ table: "users", model: "GlobalUser", changes: ["Added column `age`"] }], sql: 'ALTER TABLE "users" ADD COLUMN "age" INTEGER;', migration: "v43_update_globaluser", message: "" };
        const [f] = driftFindings(report({ model }));
        assert.equal(f.code, "MODEL_DRIFT");
        assert.match(f.cause, /^model GlobalUser \(users\) in schema\.prisma has changes no migration makes: Added column `age`$/);
        assert.match(f.fix, /v43_update_globaluser/);
        const r = withDrift(base, report({ live: { status: "not-run", reason: "no running db container", findings: [], driftFixesPresent: [], blocking: [] }, model: { status: "not-run", reason: "no running api container" } }));
        assert.deepEqual(r.findings, []);
        assert.deepEqual(r.notes, ["schema drift not checked: no running db container", "model drift not checked: no running api container"]);
        assert.equal(r.drift?.live.status, "not-run");
    });
});
