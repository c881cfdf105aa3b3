/**
 * The takeover of the incident's docker-compose host through the real Pulumi engine: the legacy set
 * (web holding the public port, an api in a restart loop, a db on a named volume whose rows were
 * made without Prisma history), then one stack configured as on-call configures it after
 * `npm run takeover:plan` (the lines it prints, the legacy db's password as the secret). `pulumi
 * preview` changes nothing on the host; one `pulumi up` backs up, removes the legacy containers,
 * starts the platform's db on the adopted volume, baselines the history and serves through the
 * proxy with every row kept; after it there is nothing left to change, and the legacy password is in
 * no engine output and not in the clear in the state.
 *
 * Under test/real/takeover/ on purpose: the legacy containers carry compose labels that the doctor's
 * tests would see, so this file runs in the suite's first phase, alone.
 */
import { strict as assert } from "node:assert";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { BackupManifest } from "../../../lib/backup/manifest";
import { LABELS } from "../../../lib/docker/labels";
import { EngineFailed, EngineRun, EngineStack, describeChanges } from "../support/engineStack";
import { Cleanup, REPO, docker, dockerOk, execLikeCommandResource, freePort, httpGet, runId } from "../support/run";
import { Legacy, PG_DATA, USERS_FINGERPRINT, buildLegacy, projectContainers, psql, volumeExists } from "./legacy";

const ROWS = 500;
const SEED_EMAIL = "admin@cartie.test";
const CONTAINER = "docker:index/container:Container";
/** USERS_FINGERPRINT without the superadmin the api seeds on the platform: exactly the legacy rows. */
const LEGACY_FINGERPRINT = USERS_FINGERPRINT.replace(/FROM users;$/, `FROM users WHERE email <> '${SEED_EMAIL}';`);
const MIGRATIONS = "SELECT string_agg(migration_name, ',' ORDER BY migration_name) FROM _prisma_migrations WHERE finished_at IS NOT NULL AND rolled_back_at IS NULL;";

function manifests(dir: string): BackupManifest[] {
    return fs
        .readdirSync(dir)
        .filter((f) => f.endsWith(".json"))
        .map((f) => JSON.parse(fs.readFileSync(path.join(dir, f), "utf8")) as BackupManifest);
}

/**
 * The legacy containers as a preview must leave them: db and web by id, state and start time; the
 * api by id only (it crash-loops, so its state flips between running and restarting by itself).
 */
async function legacyStates(l: Legacy): Promise<string[]> {
    const inspect = async (n: string, format: string): Promise<string> => (await dockerOk(["inspect", "-f", format, n])).trim();
    return [
        await inspect(l.db, "{{.Name}} {{.Id}} {{.State.Status}} {{.State.StartedAt}}"),
        await inspect(l.web, "{{.Name}} {{.Id}} {{.State.Status}} {{.State.StartedAt}}"),
        await inspect(l.api, "{{.Name}} {{.Id}}"),
    ];
}

async function liveOnVolume(volume: string): Promise<string[]> {
    return (await dockerOk(["ps", "--filter", `volume=${volume}`, "--format", "{{.Names}}"])).split(/\s+/).filter(Boolean);
}

describe("real engine: taking over the incident's docker-compose host (legacy web/api/db, rows without migration history)", function () {
    const cleanup = new Cleanup();
    let l: Legacy;
    let s: EngineStack;
    let fingerprint = "";
    const planConfig: Record<string, string> = {};
    /** Everything the engine printed in this file, to look for the legacy password in. */
    const printed: Array<{ what: string; text: string }> = [];
    const record = (what: string, run: EngineRun): EngineRun => {
        printed.push({ what, text: `${run.stdout}\n${run.stderr}\n${run.diagnostics.map((d) => d.message).join("\n")}` });
        return run;
    };
    /** The engine command, recorded whether it passes or fails. */
    const engine = async (what: string, fn: () => Promise<EngineRun>): Promise<EngineRun> => {
        const t = Date.now();
        try {
            return record(what, await fn());
        } catch (err) {
            if (err instanceof EngineFailed) record(what, err.run);
            throw err;
        } finally {
            console.log(`      ${what}: ${((Date.now() - t) / 1000).toFixed(1)} s`);
        }
    };

    before(async function () {
        const t = Date.now();
        // Registered before the stack, so cleaned up after it (Cleanup runs last-in first-out): the
        // stack's db runs on the legacy volume, which only goes once that container is gone.
        l = await buildLegacy({
            project: `infra2e${runId()}`,
            port: await freePort(),
            password: `legacy-pw-${runId()}${runId()}`,
            rows: ROWS,
            // Unused here: the steps run inside the engine and back up into the stack's cartie:backupDir.
            backupDir: "",
            cleanup,
        });
        fingerprint = await psql(l.db, LEGACY_FINGERPRINT);
        assert.match(fingerprint, new RegExp(`^${ROWS}:`));

        // `npm run takeover:plan -- <project>` from the project folder, as on-call runs it; its lines are the stack's config.
        const plan = await execLikeCommandResource(`npm run -s takeover:plan -- ${l.project}`, {}, REPO);
        assert.equal(plan.code, 0, plan.stdout + plan.stderr);
        printed.push({ what: "takeover:plan", text: plan.stdout + plan.stderr });
        for (const line of plan.stdout.split("\n").filter((x) => x.startsWith("pulumi config set"))) {
            const m = /^pulumi config set (cartie:\w+) (\S+)$/.exec(line);
            assert.ok(m, `not a config line: ${line}`);
            planConfig[m[1]] = m[2].replace(/^'(.*)'$/, "$1");
        }
        assert.equal(planConfig["cartie:legacyComposeProject"], l.project, plan.stdout);
        assert.equal(planConfig["cartie:dataVolume"], l.volume, plan.stdout);

        // The platform publishes the port the legacy web holds today (the incident's host): the takeover must free it.
        s = await EngineStack.create(cleanup, { config: { ...planConfig, "cartie:publicPort": String(l.port) }, secrets: { "cartie:postgresPassword": l.password } });
        s.port = l.port;
        console.log(`      legacy host and stack ready: ${((Date.now() - t) / 1000).toFixed(1)} s (config from takeover:plan: ${Object.keys(planConfig).join(", ")})`);
    });
    after(() => cleanup.run());

    it("`pulumi preview` lists the takeover steps and the platform's resources as creates, and changes nothing on the host", async () => {
        const states = await legacyStates(l);
        const preview = await engine("preview", () => s.preview());
        const ops = new Set(preview.changes.map((c) => c.op));
        assert.deepEqual([...ops], ["create"], describeChanges(preview));
        const names = new Set(preview.changes.map((c) => c.name));
        for (const n of ["legacy-preflight", "legacy-backup", "legacy-takeover", "db-data", "db", "migration", `${s.prefix}-api`, `${s.prefix}-web`, "proxy", "release", "verification"]) {
            assert.ok(names.has(n), `${n} is not a create of the preview:\n${describeChanges(preview)}`);
        }
        // As on-call reads it: the three steps, in order, before the platform's db and the proxy.
        const order = ["legacy-preflight", "legacy-backup", "legacy-takeover", "db", "proxy"].map((n) => preview.steps.findIndex((c) => c.name === n && (c.type.startsWith("command:") || c.type === CONTAINER)));
        const [preflight, backup, takeover, db, proxy] = order;
        assert.ok(preflight >= 0 && preflight < backup && backup < takeover && takeover < db && takeover < proxy, `order ${order.join(",")}:\n${describeChanges(preview)}`);
        assert.deepEqual(await legacyStates(l), states, "the preview changed a legacy container");
        assert.match((await legacyStates(l)).slice(0, 2).join("\n"), new RegExp(`^/${l.db} \\S+ running \\S+\\n/${l.web} \\S+ running \\S+$`));
        assert.deepEqual(await s.hostContainers(), [], "the preview started a platform container");
        assert.deepEqual(fs.readdirSync(s.backupDir), [], "the preview wrote a backup");
        const legacyWeb = await httpGet(`${s.baseUrl}/`);
        assert.equal(legacyWeb?.body.trim(), "legacy", "the legacy web no longer holds the public port");
    });

    it("`pulumi up` takes the host over: a takeover backup, the legacy containers gone and the volume kept, the platform's db on it baselined with every row, / and /api/health 200", async () => {
        const up = await engine("first up", () => s.up());
        // The update log holds each step's report (what on-call reads, and where a leaked password would show).
        const log = up.stdout;
        const at = (re: RegExp): number => {
            const m = re.exec(log);
            assert.ok(m, `${re} is not in the update log:\n${log.slice(-6000)}`);
            return m.index;
        };
        assert.ok(at(new RegExp(`ok: legacy database ${l.db} accepts cartie:postgresPassword`)) < at(new RegExp(`backup: wrote \\S+-takeover-${l.project}\\.sql`)));
        assert.ok(at(new RegExp(`backup: wrote \\S+-takeover-${l.project}\\.sql`)) < at(new RegExp(`takeover: stopping ${l.web}`)));
        assert.ok(at(new RegExp(`takeover: removing ${l.db}`)) < at(new RegExp(`takeover: volume ${l.volume} is free`)));
        assert.ok(at(new RegExp(`takeover: volume ${l.volume} is free`)) < at(/\$ prisma migrate resolve --applied v41_baseline/));
        assert.deepEqual(up.changes.filter((c) => c.op !== "create"), [], describeChanges(up));

        // The engine's order: neither a Postgres on the data volume nor the public port's new holder before the legacy set is gone.
        const step = (name: string, type?: string): { startedAt: number; endedAt?: number } => {
            const found = up.steps.find((c) => c.name === name && (!type || c.type === type));
            assert.ok(found, `no step ${name}:\n${describeChanges(up)}`);
            return found;
        };
        const takeoverEnded = step("legacy-takeover").endedAt;
        assert.ok(takeoverEnded !== undefined);
        for (const n of ["db", "proxy"]) assert.ok(step(n, CONTAINER).startedAt >= takeoverEnded, `${n} was created before the takeover finished`);

        // The takeover backup: a whole dump with its manifest, in the stack's backupDir (beside the migration's own).
        const found = manifests(s.backupDir);
        assert.deepEqual(found.map((m) => m.reason).sort(), ["pre-migration", "takeover"]);
        const takeover = found.filter((m) => m.reason === "takeover");
        assert.equal(takeover.length, 1, JSON.stringify(found));
        assert.match(takeover[0].file, new RegExp(`^\\d{8}T\\d{6}Z-takeover-${l.project}\\.sql$`));
        const dump = fs.readFileSync(path.join(s.backupDir, takeover[0].file));
        assert.equal(dump.length, takeover[0].bytes);
        assert.equal(crypto.createHash("sha256").update(dump).digest("hex"), takeover[0].sha256);
        assert.deepEqual(takeover[0].rowCounts, { "public.users": ROWS });

        // The legacy containers are gone, the volume is kept and now holds the platform's db, and only it.
        assert.deepEqual(await projectContainers(l.project), []);
        assert.equal(await volumeExists(l.volume), true, "the legacy data volume was removed");
        const db = await s.containerName("db");
        assert.deepEqual(await liveOnVolume(l.volume), [db]);
        assert.equal((await dockerOk(["inspect", "-f", `{{range .Mounts}}{{if eq .Destination "${PG_DATA}"}}{{.Name}}{{end}}{{end}}`, db])).trim(), l.volume);
        assert.equal(await volumeExists(`${s.prefix}-db-data`), false, "an empty data volume was made next to the adopted one");

        // The migration found the tables without history: baseline marked applied, the later one deployed, every legacy row there.
        assert.equal(await psql(db, MIGRATIONS), "v41_baseline,v42_add_sessions");
        assert.equal(await psql(db, LEGACY_FINGERPRINT), fingerprint, "legacy rows changed or were lost");
        assert.equal(await psql(db, `SELECT count(*) FROM users WHERE email = '${SEED_EMAIL}';`), "1", "the api did not seed on the adopted data");

        for (const p of ["/", "/api/health"]) assert.equal((await httpGet(`${s.baseUrl}${p}`))?.status, 200, `${p} through the proxy`);
        assert.notEqual((await httpGet(`${s.baseUrl}/`))?.body.trim(), "legacy");
        const labels = await dockerOk(["inspect", "-f", `{{index .Config.Labels "${LABELS.stack}"}}`, db]);
        assert.equal(labels.trim(), s.stack);
    });

    it("then nothing is left to change: `pulumi preview --expect-no-changes` passes and a second `pulumi up` changes nothing (the takeover does not run again)", async () => {
        await engine("preview --expect-no-changes", () => s.preview({ expectNoChanges: true }));
        const again = await engine("second up", () => s.up());
        assert.deepEqual(again.changes, [], describeChanges(again));
        assert.equal(manifests(s.backupDir).filter((m) => m.reason === "takeover").length, 1, "a second takeover backup was written");
        for (const p of ["/", "/api/health"]) assert.equal((await httpGet(`${s.baseUrl}${p}`))?.status, 200, `${p} after the second up`);
    });

    it("the legacy db's password is in no engine output, and not in the clear in `pulumi stack export`, the state files or the stack's config", async () => {
        assert.ok(printed.length >= 4, `runs recorded: ${printed.map((p) => p.what).join(", ")}`);
        const forms = [l.password, encodeURIComponent(l.password), Buffer.from(l.password).toString("base64")];
        for (const { what, text } of printed) for (const f of forms) assert.ok(!text.includes(f), `the legacy password is in the output of ${what}`);
        const exported = await s.exportText();
        assert.ok(exported.includes(l.project), "the export holds no takeover resources");
        for (const f of forms) assert.ok(!exported.includes(f), "the legacy password is in `pulumi stack export`");
        const files = (dir: string): string[] => fs.readdirSync(dir, { recursive: true, encoding: "utf8" }).map((f) => path.join(dir, f)).filter((f) => fs.statSync(f).isFile());
        for (const f of [...files(s.stateDir), path.join(s.projectDir, `Pulumi.${s.stack}.yaml`)]) {
            const text = fs.readFileSync(f, "utf8");
            for (const form of forms) assert.ok(!text.includes(form), `the legacy password is in ${path.relative(s.stateDir, f)}`);
        }
        const logs = await docker(["logs", await s.containerName("db")]);
        assert.ok(!`${logs.stdout}${logs.stderr}`.includes(l.password), "the platform's db logged the password");
    });
});
