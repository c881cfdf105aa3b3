/**
 * Database password rotation on the real engine (`pulumi up` through the Automation API), real
 * Docker, PostgreSQL 15 and the sample api: the stack comes up with password A; the secret
 * `cartie:postgresPassword` becomes B and the same `pulumi up` runs the db-password step
 * (scripts/db-password.ts, after the db's health gate) and rolls the api, under load through the
 * proxy. Then the step is killed right after ALTER ROLE (its test-only hook, which reaches the
 * step's process through the CLI's environment) and the doctor is asked what is wrong before the
 * next `up` finishes the rotation.
 *
 * What a step did is read from the lines it printed, which the command provider logs as the
 * engine's diagnostics on the step's URN (its stdout output is a secret in the state).
 * Passwords are checked from the host with its own psql (PostgreSQL 15) against the db
 * container's network address, so the check does not share code with the step it checks.
 */
import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as path from "node:path";
import { runDoctor } from "../../../lib/doctor/run";
import { DoctorReport } from "../../../lib/doctor/types";
import { TEST_KILL_AFTER_ALTER_ROLE } from "../../../lib/rotation/dbPassword";
import { psqlIn } from "../support/db";
import { Change, EngineFailed, EngineRun, EngineStack, describeChanges, namesOf } from "../support/engineStack";
import { LoadLoop, LoadReport, assertNoDrop } from "../support/load";
import { awkwardPassword } from "../support/program";
import { Cleanup, docker, dockerOk, exec, sleep, waitFor } from "../support/run";

const PSQL = "/usr/lib/postgresql/15/bin/psql";

/** The program's own component resources (`cartie:platform:…`): they run nothing. */
const isComponent = (c: Change): boolean => c.type.startsWith("cartie:");

/** What the Release step prints (the stack output `release`). */
interface ReleaseSummary {
    switched: string[];
    retired: string[];
}

describe("real engine: rotating the database password (pulumi up, real Docker, PostgreSQL 15 and the sample api)", function () {
    const cleanup = new Cleanup();
    let s: EngineStack;
    const A = awkwardPassword();
    const B = awkwardPassword();
    const C = awkwardPassword();
    /** Everything the engine and the platform printed or recorded, searched for the passwords at the end. */
    const seen: string[] = [];
    const record = (run: EngineRun): EngineRun => {
        seen.push(run.stdout, run.stderr, JSON.stringify(run.diagnostics), JSON.stringify(run.failures));
        return run;
    };
    const up = async (opts: { replace?: string[] } = {}): Promise<EngineRun> => {
        try {
            return record(await s.up(opts));
        } catch (err) {
            if (err instanceof EngineFailed) record(err.run);
            throw err;
        }
    };
    /** The lines a step printed in this run (the command provider logs them on its URN). */
    const printed = (run: EngineRun, name: string): string =>
        run.diagnostics
            .filter((d) => d.urn?.split("::").pop() === name)
            .map((d) => d.message)
            .join("");
    /** A step of a resource by its logical name; the program's components share names with their children (`db`, `db-password`), so never a component's. */
    const step = (run: EngineRun, name: string, op?: string): Change | undefined => run.steps.find((c) => c.name === name && !isComponent(c) && (!op || c.op === op));
    const db = (): string => `${s.prefix}-db`;
    /** The Release step's summary of the last update (the stack output `release`). */
    const release = async (): Promise<ReleaseSummary> => JSON.parse(String((await s.outputs()).release)) as ReleaseSummary;

    /** A password login from the host to the db's network address (scram-sha-256 there; the container's loopback is trusted). */
    async function login(password: string): Promise<{ ok: boolean; message: string }> {
        const ip = (await dockerOk(["inspect", "--format", "{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}", db()])).trim().split(/\s+/)[0];
        const r = await exec(PSQL, ["-X", "-w", "-At", "-h", ip, "-U", "cartie", "-d", "cartie", "-c", "SELECT 1"], { env: { PGPASSWORD: password, PGCONNECT_TIMEOUT: "10" } });
        return { ok: r.code === 0 && r.stdout.trim() === "1", message: r.stderr.trim() };
    }

    /** Rows of every table in the public schema, over the db's socket: `table=count,…`. */
    const rowCounts = (): Promise<string> =>
        psqlIn(
            db(),
            "SELECT string_agg(format('%s=%s', c.relname, (xpath('/row/n/text()', query_to_xml(format('SELECT count(*) AS n FROM public.%I', c.relname), false, true, '')))[1]::text), ',' ORDER BY c.relname) " +
                "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND c.relkind = 'r';",
        );
    const dbIdentity = async (): Promise<string> => (await dockerOk(["inspect", "--format", "{{.Id}} {{.State.StartedAt}}", db()])).trim();
    const health = async (): Promise<number> => (await fetch(`${s.baseUrl}/api/health`)).status;
    const doctor = async (): Promise<DoctorReport> => {
        const report = await runDoctor({ projectDir: s.projectDir, stack: s.stack, overrides: {}, tail: 50, onlyStack: true });
        seen.push(JSON.stringify(report));
        return report;
    };

    /** What a password change may change: the rotation step, and the api's release (a new api next to the old, the switch, its verification). */
    const rotationChanges = (run: EngineRun): string[] => [...new Set(run.changes.filter((c) => !isComponent(c)).map((c) => c.name))].sort();
    const ROTATION = (): string[] => ["db-password", `${s.prefix}-api`, "release", "verification"].sort();

    before(async function () {
        const t0 = Date.now();
        s = await EngineStack.create(cleanup, { config: { "cartie:releaseHealthTimeout": "120" }, secrets: { "cartie:postgresPassword": A } });
        const first = await up();
        // Two steps around the db: the file before the container (a fresh volume is initialised from it), the rotation after its health gate.
        const file = step(first, "db-password-file", "create");
        const rotation = step(first, "db-password", "create");
        const dbCreate = step(first, "db", "create");
        const gate = step(first, "db-ready", "create");
        assert.ok(file && rotation && dbCreate && gate, describeChanges(first));
        const times = first.steps.map((c) => `${c.op} ${c.name} ${c.startedAt}-${c.endedAt ?? "?"}`).join("\n");
        assert.ok((file.endedAt ?? Infinity) <= dbCreate.startedAt, `the db started before its password file was written:\n${times}`);
        assert.ok((gate.endedAt ?? Infinity) <= rotation.startedAt, `the rotation step ran before the db was healthy:\n${times}`);
        assert.match(printed(first, "db-password-file"), /wrote \/run\/cartie\/postgres-password on the db-secrets volume: a new data volume is initialised with it/);
        assert.match(printed(first, "db-password"), /nothing: the database accepts the configured password and the file holds it/);
        // The fresh volume was initialised from the file: the role has A.
        assert.ok((await login(A)).ok, "the database does not accept the password it was initialised with");
        assert.equal(await health(), 200);
        // Rows of our own next to the app's, to count after the rotation.
        await psqlIn(db(), "CREATE TABLE rotation_probe (id int PRIMARY KEY, note text); INSERT INTO rotation_probe SELECT g, md5(g::text) FROM generate_series(1, 5000) g;");
        console.log(`      first up: ${((Date.now() - t0) / 1000).toFixed(0)} s`);
    });

    after(() => cleanup.run());

    it("1. A → B under load: only the rotation step and the api's release change; the api is healthy on B, A is refused, every row kept, the db container untouched, no failed request", async () => {
        const t0 = Date.now();
        const rowsBefore = await rowCounts();
        const dbBefore = await dbIdentity();
        const apiBefore = await s.containerName("api");
        await s.setSecrets({ "cartie:postgresPassword": B });
        const retrying = new LoadLoop({ baseUrl: s.baseUrl, clients: 4 });
        const strict = new LoadLoop({ baseUrl: s.baseUrl, clients: 2, retryResetOnce: false });
        retrying.start();
        strict.start();
        await sleep(1500);
        const rotation = await up();
        await sleep(500);
        const [r1, r2]: LoadReport[] = [await retrying.stop(), await strict.stop()];
        console.log(`      changes: ${describeChanges(rotation).replace(/\n/g, " | ")}`);
        console.log(`      load during the rotation: retrying ${r1.summary()}; never retrying ${r2.summary()}`);

        assert.deepEqual(rotationChanges(rotation), ROTATION(), describeChanges(rotation));
        assert.deepEqual(namesOf(rotation, "update"), ["db-password", "release"], describeChanges(rotation));
        assert.deepEqual(
            rotation.changes.filter((c) => c.name === `${s.prefix}-api`).map((c) => c.op),
            ["create-replacement", "replace", "delete-replaced"],
            `the api was not replaced create-first:\n${describeChanges(rotation)}`,
        );
        // The rotation runs before the new api is created: the api waits for it.
        assert.ok((step(rotation, "db-password", "update")?.endedAt ?? Infinity) <= (step(rotation, `${s.prefix}-api`, "create-replacement")?.startedAt ?? 0), "the api was created before the rotation finished");
        const summary = await release();
        assert.deepEqual(summary.switched, ["api"]);
        assert.deepEqual(summary.retired, [apiBefore]);
        const lines = printed(rotation, "db-password");
        assert.match(lines, /alter-role: the database refuses the configured password/);
        assert.match(lines, /verified: the database accepts the configured password/);
        assert.match(lines, /verified: the database refuses the previous password/);
        assert.match(lines, /wrote \/run\/cartie\/postgres-password/);
        assert.equal(printed(rotation, "db-password-file"), "", "the file step ran in a rotation");

        assert.equal(await health(), 200, "the api is not healthy on B");
        assert.ok((await login(B)).ok, "B is not accepted");
        const withA = await login(A);
        assert.equal(withA.ok, false, "A still works");
        assert.match(withA.message, /password authentication failed for user "cartie"/);
        assert.match(rowsBefore, /rotation_probe=5000/);
        assert.equal(await rowCounts(), rowsBefore, "rows changed");
        assert.equal(await dbIdentity(), dbBefore, "the db container was replaced or restarted");
        assertNoDrop(r1);
        // Clients that never resend are measured, not asserted: the reload-based switch resets an idle
        // keep-alive connection now and then (issue 22; seen here in CI: 2 resets in one rotation).
        await s.preview({ expectNoChanges: true }).then(record);
        console.log(`      case 1: ${((Date.now() - t0) / 1000).toFixed(0)} s`);
    });

    it("1b. B again: a second `pulumi up` changes nothing; the step run again by the engine (`--replace`) finds nothing to do and changes only itself", async () => {
        const t0 = Date.now();
        const again = await up();
        assert.deepEqual(again.changes, [], `a second up with the same password changed something:\n${describeChanges(again)}`);
        const apiBefore = await s.containerName("api");
        const dbBefore = await dbIdentity();
        const rerun = await up({ replace: [await s.urn("db-password", "command:local:Command")] });
        assert.deepEqual(rotationChanges(rerun), ["db-password"], describeChanges(rerun));
        const lines = printed(rerun, "db-password");
        assert.match(lines, /^db-password: nothing: the database accepts the configured password and the file holds it$/m);
        assert.doesNotMatch(lines, /changed the password|wrote /);
        assert.equal(await s.containerName("api"), apiBefore);
        assert.equal(await dbIdentity(), dbBefore);
        assert.ok((await login(B)).ok);
        console.log(`      case 1b: ${((Date.now() - t0) / 1000).toFixed(0)} s`);
    });

    it("2. killed after ALTER ROLE, before the api moved: the doctor names the mismatch; the next up finishes the rotation; healthy", async () => {
        const t0 = Date.now();
        await s.setSecrets({ "cartie:postgresPassword": C });
        const apiBefore = await s.containerName("api");
        const dbBefore = await dbIdentity();
        // The hook is read from the step's own environment: the CLI's, which the provider and its commands inherit.
        const restore = s.setEngineEnv(TEST_KILL_AFTER_ALTER_ROLE, "1");
        const failed = await up().then(
            () => undefined,
            (err: unknown) => err,
        );
        restore();
        assert.ok(failed instanceof EngineFailed, `the update did not fail: ${String(failed)}`);
        assert.deepEqual([...new Set(failed.run.failures.map((f) => f.name))], ["db-password"], failed.text.slice(0, 3000));
        // SIGKILL: the shell the provider runs the step in reports 128 + 9.
        assert.ok(
            failed.run.failures.some((f) => /exit status 137/.test(f.message)),
            `the step was not killed: ${failed.run.failures.map((f) => f.message).join("\n")}`,
        );
        // The hook fired where it should: after the role changed, before the verification and the file.
        const lines = printed(failed.run, "db-password");
        assert.match(lines, /changed the password of role "cartie"/);
        assert.doesNotMatch(lines, /verified:|wrote /);
        assert.ok(!failed.run.changes.some((c) => c.name === `${s.prefix}-api`), `the api moved:\n${describeChanges(failed.run)}`);
        // The role has C, the api and the file still B; the api has not moved.
        assert.ok((await login(C)).ok);
        assert.equal((await login(B)).ok, false);
        assert.equal(await s.containerName("api"), apiBefore);
        // The serving api keeps its open connections; a restarted one (a crash, a host reboot) needs a new login and cannot.
        await dockerOk(["restart", "-t", "5", apiBefore]);
        await waitFor(
            "the restarted api to log the refused login",
            async () => {
                const logs = await docker(["logs", "--since", "60s", apiBefore]);
                return /Authentication failed/.test(`${logs.stdout}${logs.stderr}`) ? true : undefined;
            },
            60_000,
        );

        const report = await doctor();
        const mismatch = report.findings.find((f) => f.code === "DB_PASSWORD_MISMATCH");
        assert.ok(mismatch, `the doctor did not name the mismatch: ${JSON.stringify(report.findings, null, 1)}`);
        assert.equal(mismatch.container, apiBefore);
        assert.match(mismatch.cause, /the password in config .* and the database's disagree/);
        assert.match(mismatch.fix, /pulumi up/);
        console.log(`      doctor: ${mismatch.cause}\n      fix: ${mismatch.fix}`);

        const finish = await up();
        console.log(`      changes: ${describeChanges(finish).replace(/\n/g, " | ")}`);
        assert.deepEqual(rotationChanges(finish), ROTATION(), describeChanges(finish));
        assert.match(printed(finish, "db-password"), /write-file: the database accepts the configured password; the file is brought in line/);
        assert.deepEqual((await release()).switched, ["api"]);
        assert.notEqual(await s.containerName("api"), apiBefore);
        await waitFor("the api to be healthy on C", async () => ((await health()) === 200 ? true : undefined), 60_000);
        assert.ok((await login(C)).ok);
        assert.equal((await login(B)).ok, false);
        assert.match(await rowCounts(), /rotation_probe=5000/);
        assert.equal(await dbIdentity(), dbBefore, "the db container was replaced or restarted");
        const healthy = await doctor();
        assert.ok(!healthy.findings.some((f) => f.code === "DB_PASSWORD_MISMATCH"), JSON.stringify(healthy.findings, null, 1));
        await s.preview({ expectNoChanges: true }).then(record);
        console.log(`      case 2: ${((Date.now() - t0) / 1000).toFixed(0)} s`);
    });

    it("no password in anything the engine or the platform printed or recorded: every run's output and diagnostics, the state export, the stack file, container logs, the doctor's reports", async () => {
        const exported = await s.exportText();
        // The state does hold the steps' environment, encrypted: the check below looks at something real.
        assert.match(exported, /"POSTGRES_PASSWORD":\s*\{\s*"4dabf18193072939515e22adb298388d":\s*"1b47061264138c4ac30d75fd1eb44270",\s*"ciphertext"/, "the state export holds no encrypted password of the step");
        seen.push(exported, fs.readFileSync(path.join(s.projectDir, `Pulumi.${s.stack}.yaml`), "utf8"));
        for (const name of [db(), await s.containerName("api"), await s.containerName("proxy")]) {
            const logs = await docker(["logs", name]);
            seen.push(`${logs.stdout}${logs.stderr}`);
        }
        const text = seen.join("\n");
        assert.ok(text.length > 10_000, "nothing was recorded");
        assert.match(text, /changed the password of role "cartie"/, "the step's own lines were not among what was searched");
        for (const p of [A, B, C]) {
            for (const form of [p, encodeURIComponent(p)]) assert.ok(!text.includes(form), "a database password appears in an engine output, the state, a log or the doctor's report");
        }
    });
});
