/**
 * Database password rotation on real Docker, PostgreSQL 15 and the sample api, through the
 * program's registered inputs and the engine stand-in (test/real/support/engine.ts): the stack
 * comes up with password A; `cartie:postgresPassword` becomes B and the same `up` runs the
 * db-password step (scripts/db-password.ts) and rolls the api, under a load loop through the
 * proxy. Then the step is killed right after ALTER ROLE (its test-only hook) and the doctor is
 * asked what is wrong before the next `up` finishes the rotation.
 *
 * Passwords are checked from the host with its own psql (PostgreSQL 15) against the db
 * container's network address, so the check does not share code with the step it checks.
 */
import { strict as assert } from "node:assert";
import { runDoctor } from "../../../lib/doctor/run";
import { DoctorReport } from "../../../lib/doctor/types";
import { TEST_KILL_AFTER_ALTER_ROLE } from "../../../lib/rotation/dbPassword";
import { UpFailed, UpResult } from "../support/engine";
import { DeployStack, releaseSummaryOf } from "../support/deployStack";
import { LoadLoop, assertNoDrop } from "../support/load";
import { CommandInputs, T, awkwardPassword } from "../support/program";
import { ProgramRun, isWireSecret } from "../../support/mockRuntime";
import { Cleanup, docker, dockerOk, exec, execLikeCommandResource, sleep, waitFor } from "../support/run";

const PSQL = "/usr/lib/postgresql/15/bin/psql";

describe("real: rotating the database password (engine order, real Docker, PostgreSQL 15 and the sample api)", function () {
    const cleanup = new Cleanup();
    let d: DeployStack;
    let A: string;
    const B = awkwardPassword();
    const C = awkwardPassword();
    /** Everything the run printed or recorded, searched for the passwords at the end. */
    const seen: string[] = [];
    /** The program's registrations the engine took (its state holds their wire form). */
    const runs: ProgramRun[] = [];
    const evaluate = async (config: Record<string, string> = {}): Promise<ProgramRun> => {
        const run = await d.evaluate("v1", config);
        runs.push(run);
        return run;
    };
    const record = (up: UpResult): UpResult => {
        for (const [name, r] of Object.entries(up.outputs)) seen.push(`${name}\n${r.stdout}\n${r.stderr}`);
        return up;
    };
    const db = (): string => `${d.prefix}-db`;

    /** A password login from the host to the db's network address (scram-sha-256 there; the container's loopback is trusted). */
    async function login(password: string): Promise<{ ok: boolean; message: string }> {
        const ip = (await dockerOk(["inspect", "--format", "{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}", db()])).trim().split(/\s+/)[0];
        const r = await exec(PSQL, ["-X", "-w", "-At", "-h", ip, "-U", "cartie", "-d", "cartie", "-c", "SELECT 1"], { env: { PGPASSWORD: password, PGCONNECT_TIMEOUT: "10" } });
        return { ok: r.code === 0 && r.stdout.trim() === "1", message: r.stderr.trim() };
    }

    /** Rows of every table in the public schema, over the db's socket: `table=count,…`. */
    async function rowCounts(): Promise<string> {
        const sql =
            "SELECT string_agg(format('%s=%s', c.relname, (xpath('/row/n/text()', query_to_xml(format('SELECT count(*) AS n FROM public.%I', c.relname), false, true, '')))[1]::text), ',' ORDER BY c.relname) " +
            "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND c.relkind = 'r';";
        return (await dockerOk(["exec", "-i", db(), "psql", "-X", "-At", "-U", "cartie", "-d", "cartie"], { input: sql })).trim();
    }

    const dbIdentity = async (): Promise<string> => (await dockerOk(["inspect", "--format", "{{.Id}} {{.State.StartedAt}}", db()])).trim();
    const health = async (): Promise<number> => (await fetch(`${d.baseUrl}/api/health`)).status;

    /** Steps of an update that touch anything of the database besides the rotation step. */
    const dbSteps = (up: UpResult): string[] => up.steps.filter((s) => /\b(db|db-data|db-secrets|db-image|migration|migration-image)\b/.test(s.replace("db-password", "")));

    before(async function () {
        d = await DeployStack.create(cleanup);
        cleanup.add("stack volumes", () => docker(["volume", "rm", "-f", `${d.prefix}-db-data`, `${d.prefix}-db-secrets`]));
        A = d.postgresPassword;
        const first = record(await d.engine.up(await evaluate()));
        assert.ok(first.steps.includes("create db-password"), first.steps.join("\n"));
        assert.ok(first.steps.indexOf("create db-password") < first.steps.indexOf("create db"), "the db started before its password file was written");
        assert.match(first.outputs["db-password"].stdout, /write-file: there is no db container yet/);
        // The fresh volume was initialised from the file: the role has A.
        assert.ok((await login(A)).ok, "the database does not accept the password it was initialised with");
        assert.equal(await health(), 200);
        // Rows of our own next to the app's, to count after the rotation.
        await dockerOk(["exec", "-i", db(), "psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-U", "cartie", "-d", "cartie"], {
            input: "CREATE TABLE rotation_probe (id int PRIMARY KEY, note text); INSERT INTO rotation_probe SELECT g, md5(g::text) FROM generate_series(1, 5000) g;\n",
        });
    });

    after(async () => {
        delete process.env[TEST_KILL_AFTER_ALTER_ROLE];
        await cleanup.run();
    });

    it("1. A → B under load: only the rotation step and the api change; the api is healthy on B, A is refused, every row kept, the db container untouched, no failed request", async () => {
        const rowsBefore = await rowCounts();
        const dbBefore = await dbIdentity();
        const run = await evaluate({ "cartie:postgresPassword": B });
        const load = new LoadLoop({ baseUrl: d.baseUrl, clients: 4 });
        load.start();
        await sleep(1500);
        const up = record(await d.engine.up(run));
        await sleep(500);
        const report = await load.stop();
        console.log(`      steps: ${up.steps.join(" | ")}`);
        console.log(`      load during the rotation: ${report.summary()}`);

        assert.equal(up.steps[0], "update db-password", up.steps.join("\n"));
        assert.deepEqual(dbSteps(up), [], "a password change touched the db, its volumes or the migration");
        assert.ok(up.steps.includes(`replace (create first) ${d.prefix}-api`), up.steps.join("\n"));
        assert.deepEqual(releaseSummaryOf(up).switched, ["api"]);
        const step = up.outputs["db-password"].stdout;
        assert.match(step, /alter-role: the database refuses the configured password/);
        assert.match(step, /verified: the database accepts the configured password/);
        assert.match(step, /verified: the database refuses the previous password/);

        assert.equal(await health(), 200, "the api is not healthy on B");
        assert.ok((await login(B)).ok, "B is not accepted");
        const withA = await login(A);
        assert.equal(withA.ok, false, "A still works");
        assert.match(withA.message, /password authentication failed for user "cartie"/);
        assert.equal(await rowCounts(), rowsBefore, "rows changed");
        assert.match(rowsBefore, /rotation_probe=5000/);
        assert.equal(await dbIdentity(), dbBefore, "the db container was replaced or restarted");
        assertNoDrop(report);
    });

    it("1b. B again: the engine finds nothing to do, and the step's script run again changes nothing", async () => {
        const run = await evaluate({ "cartie:postgresPassword": B });
        const up = record(await d.engine.up(run));
        assert.deepEqual(up.steps, [], "a second evaluation with the same password changed something");
        const cmd = run.one(T.command, "db-password").inputs as unknown as CommandInputs;
        const again = await execLikeCommandResource(cmd.create, cmd.environment);
        seen.push(again.stdout, again.stderr);
        assert.equal(again.code, 0, again.stderr);
        assert.match(again.stdout, /^db-password: nothing: the database accepts the configured password and the file holds it$/m);
        assert.doesNotMatch(again.stdout, /changed the password|wrote /);
    });

    it("2. killed after ALTER ROLE, before the api moved: the doctor names the mismatch; the next up finishes the rotation; healthy", async () => {
        const run = await evaluate({ "cartie:postgresPassword": C });
        const apiBefore = d.container("api");
        process.env[TEST_KILL_AFTER_ALTER_ROLE] = "1";
        let failed: unknown;
        try {
            await d.engine.up(run);
        } catch (err) {
            failed = err;
        } finally {
            delete process.env[TEST_KILL_AFTER_ALTER_ROLE];
        }
        assert.ok(failed instanceof UpFailed, `the update did not fail: ${String(failed)}`);
        assert.equal(failed.resource, "db-password");
        assert.equal(failed.exec?.code, 137, `the step was not killed: ${failed.detail}`);
        if (failed.exec) seen.push(failed.exec.stdout, failed.exec.stderr);
        assert.match(failed.exec?.stdout ?? "", /changed the password of role "cartie"/);
        // The role has C, the api and the file still B; the api has not moved.
        assert.ok((await login(C)).ok);
        assert.equal((await login(B)).ok, false);
        assert.equal(d.container("api"), apiBefore);
        // The serving api keeps its open connections; a restarted one (a crash, a host reboot) needs a new login and cannot.
        await dockerOk(["restart", "-t", "5", apiBefore]);
        await waitFor("the restarted api to log the refused login", async () => {
            const logs = await docker(["logs", "--since", "60s", apiBefore]);
            return /Authentication failed/.test(`${logs.stdout}${logs.stderr}`) ? true : undefined;
        }, 60_000);

        const report: DoctorReport = await runDoctor({ projectDir: d.projectDir, stack: d.stack, overrides: {}, tail: 50, onlyStack: true });
        const json = JSON.stringify(report);
        seen.push(json);
        const mismatch = report.findings.find((f) => f.code === "DB_PASSWORD_MISMATCH");
        assert.ok(mismatch, `the doctor did not name the mismatch: ${JSON.stringify(report.findings, null, 1)}`);
        assert.equal(mismatch.container, apiBefore);
        assert.match(mismatch.cause, /the password in config .* and the database's disagree/);
        assert.match(mismatch.fix, /pulumi up/);
        console.log(`      doctor: ${mismatch.cause}\n      fix: ${mismatch.fix}`);

        const up = record(await d.engine.up(run));
        console.log(`      steps: ${up.steps.join(" | ")}`);
        assert.equal(up.steps[0], "update db-password");
        assert.match(up.outputs["db-password"].stdout, /write-file: the database accepts the configured password; the file is brought in line/);
        assert.deepEqual(dbSteps(up), []);
        assert.deepEqual(releaseSummaryOf(up).switched, ["api"]);
        assert.notEqual(d.container("api"), apiBefore);
        await waitFor("the api to be healthy on C", async () => ((await health()) === 200 ? true : undefined), 60_000);
        assert.ok((await login(C)).ok);
        assert.equal((await login(B)).ok, false);
        assert.match(await rowCounts(), /rotation_probe=5000/);
        const healthy = await runDoctor({ projectDir: d.projectDir, stack: d.stack, overrides: {}, tail: 50, onlyStack: true });
        seen.push(JSON.stringify(healthy));
        assert.ok(!healthy.findings.some((f) => f.code === "DB_PASSWORD_MISMATCH"), JSON.stringify(healthy.findings, null, 1));
    });

    it("no password in anything the run printed or recorded: step outputs, container logs, the doctor's reports, the state's form of every input", async () => {
        assert.equal(runs.length, 4);
        for (const run of runs) for (const r of run.resources) seen.push(JSON.stringify(r.wire, (_k, v: unknown) => (isWireSecret(v) ? "<secret>" : v)));
        for (const name of [db(), d.container("api"), `${d.prefix}-proxy`]) {
            const logs = await docker(["logs", name]);
            seen.push(`${logs.stdout}${logs.stderr}`);
        }
        const text = seen.join("\n");
        assert.ok(text.length > 1000, "nothing was recorded");
        for (const p of [A, B, C]) {
            for (const form of [p, encodeURIComponent(p)]) assert.ok(!text.includes(form), "a database password appears in an output, a log or the doctor's report");
        }
    });
});
