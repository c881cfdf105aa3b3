/**
 * The takeover on a real host: real Docker, real PostgreSQL 15, the real migration with Prisma
 * 6.19.3. Each legacy set is a compose-labelled project of its own (`infra2t<random>`).
 */
import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { BackupManifest } from "../../../lib/backup/manifest";
import { BACKUP_DEFAULTS, backupEnvironment } from "../../../lib/backup/settings";
import { databaseUrl } from "../../../lib/env";
import { apiHealthcheckCommand } from "../../../components/api";
import { DB_PASSWORD_COMMAND } from "../../../components/dbPassword";
import { Cleanup, REPO, docker, dockerOk, execLikeCommandResource, freePort, runId } from "../support/run";
import { API_DIR, BASE, CACHE_REPO, buildImage, requireBaseImages } from "../support/sample";
import {
    Legacy,
    PG_DATA,
    USERS_FINGERPRINT,
    buildLegacy,
    legacyNames,
    containerExists,
    projectContainers,
    psql,
    runStep,
    runStepAndKill,
    startPlatformDb,
    stepEnvironment,
    volumeExists,
    waitPgReady,
} from "./legacy";

const ROWS = 1000;
const secret = (): string => `legacy-pw-${runId()}${runId()}`;

function manifests(dir: string): BackupManifest[] {
    if (!fs.existsSync(dir)) return [];
    return fs
        .readdirSync(dir)
        .filter((f) => f.endsWith(".json"))
        .map((f) => JSON.parse(fs.readFileSync(path.join(dir, f), "utf8")) as BackupManifest);
}

async function liveOnVolume(volume: string): Promise<string[]> {
    return (await dockerOk(["ps", "--filter", `volume=${volume}`, "--format", "{{.Names}}"])).split(/\s+/).filter(Boolean);
}

describe("takeover of a live docker-compose host (real Docker, Postgres, Prisma)", function () {
    const cleanup = new Cleanup();
    const id = runId();
    const backupRoot = fs.mkdtempSync(path.join(os.tmpdir(), "cartie-takeover-backups-"));
    cleanup.dir(backupRoot);

    before(async () => {
        await requireBaseImages();
    });
    after(async function () {
        this.timeout(180_000);
        await cleanup.run();
    });

    describe("a mismatched Postgres major version", () => {
        let l: Legacy;
        let pgVersionBefore: string;
        before(async function () {
            this.timeout(120_000);
            const project = `infra2t${id}v`;
            l = legacyNames(project, { port: await freePort(), password: secret(), backupDir: path.join(backupRoot, "mismatch") });
            cleanup.volume(l.volume);
            cleanup.container(l.db);
            cleanup.container(l.web);
            await dockerOk(["volume", "create", l.volume]);
            // Real data of another major version: a data directory whose PG_VERSION says 14.
            await dockerOk(["run", "--rm", "-v", `${l.volume}:/d`, BASE.busybox, "sh", "-c", "echo 14 > /d/PG_VERSION && mkdir -p /d/base /d/global && echo data > /d/base/marker"]);
            pgVersionBefore = (await dockerOk(["run", "--rm", "-v", `${l.volume}:/d:ro`, BASE.busybox, "cat", "/d/PG_VERSION"])).trim();
            const labels = (svc: string): string[] => ["--label", `com.docker.compose.project=${project}`, "--label", `com.docker.compose.service=${svc}`];
            await dockerOk(["run", "-d", "--name", l.db, ...labels("db"), "-e", "POSTGRES_USER=app", "-v", `${l.volume}:${PG_DATA}`, BASE.busybox, "sleep", "3600"]);
            await dockerOk(["run", "-d", "--name", l.web, ...labels("web"), "-p", `127.0.0.1:${l.port}:8080`, BASE.busybox, "sleep", "3600"]);
        });

        it("every step refuses before anything changes, naming the matching image (and the user mismatch)", async function () {
            this.timeout(180_000);
            for (const step of ["preflight", "backup", "takeover"] as const) {
                const r = await runStep(step, stepEnvironment(l));
                const out = `${r.stdout}\n${r.stderr}`;
                assert.equal(r.code, 1, `${step} did not refuse:\n${out}`);
                assert.match(out, new RegExp(`data volume ${l.volume} was written by PostgreSQL 14 .* is PostgreSQL 15`));
                assert.match(out, /pulumi config set cartie:postgresImage local\/postgres:14/);
                assert.match(out, /user "app" and database "app"/);
                assert.match(out, /nothing was changed/);
                assert.ok(!out.includes(l.password));
            }
            assert.deepEqual(await projectContainers(l.project), [l.db, l.web].sort());
            for (const c of [l.db, l.web]) assert.equal((await dockerOk(["inspect", "-f", "{{.State.Status}}", c])).trim(), "running", `${c} was touched`);
            assert.equal((await dockerOk(["run", "--rm", "-v", `${l.volume}:/d:ro`, BASE.busybox, "cat", "/d/PG_VERSION", "/d/base/marker"])).trim(), `${pgVersionBefore}\ndata`);
            assert.deepEqual(manifests(l.backupDir), [], "a backup was written");
        });
    });

    describe("the incident's host: preflight, backup, takeover, platform db, migration", () => {
        let l: Legacy;
        let fingerprint: string;
        let manifest: BackupManifest;
        const timings: Record<string, number> = {};
        const timed = async <T>(what: string, fn: () => Promise<T>): Promise<T> => {
            const t = Date.now();
            try {
                return await fn();
            } finally {
                timings[what] = Date.now() - t;
            }
        };

        before(async function () {
            this.timeout(300_000);
            l = await timed("build legacy host", async () =>
                buildLegacy({ project: `infra2t${id}`, port: await freePort(), password: secret(), rows: ROWS, backupDir: path.join(backupRoot, "main"), cleanup }),
            );
            fingerprint = await psql(l.db, USERS_FINGERPRINT);
            assert.match(fingerprint, new RegExp(`^${ROWS}:`));
        });
        after(() => console.log(`      timings (ms): ${JSON.stringify(timings)}`));

        it("preflight lists the legacy containers with what will happen to each, and changes nothing", async function () {
            this.timeout(120_000);
            const r = await timed("preflight", () => runStep("preflight", stepEnvironment(l)));
            assert.equal(r.code, 0, r.stdout + r.stderr);
            const lines = r.stdout.split("\n");
            const order = [l.web, l.api, l.db].map((n) => lines.findIndex((x) => new RegExp(`^\\s+\\d\\. ${n} `).test(x)));
            assert.ok(order.every((i) => i >= 0) && order[0] < order[1] && order[1] < order[2], `order web, api, db expected:\n${r.stdout}`);
            assert.match(r.stdout, new RegExp(`${l.web} \\(running; holds public port 127\\.0\\.0\\.1:${l.port}->8080/tcp`));
            assert.match(r.stdout, new RegExp(`${l.db} \\(running; mounts data volume ${l.volume}.*volume ${l.volume} is kept`));
            assert.match(r.stdout, /PostgreSQL 15 data directory, matches local\/postgres:15/);
            assert.match(r.stdout, /accepts cartie:postgresPassword/);
            assert.ok(!r.stdout.includes(l.password) && !r.stderr.includes(l.password));
            assert.deepEqual(await projectContainers(l.project), [l.api, l.db, l.web].sort());
        });

        it("preflight refuses a cartie:postgresPassword the legacy database does not accept", async function () {
            this.timeout(120_000);
            const wrong = secret();
            const r = await runStep("preflight", stepEnvironment(l, { password: wrong }));
            assert.equal(r.code, 1, r.stdout);
            assert.match(r.stdout, /refuses cartie:postgresPassword for user "cartie"/);
            assert.ok(!`${r.stdout}${r.stderr}`.includes(wrong));
        });

        it("preflight refuses a dataVolume that is not the legacy db's: no empty database next to the real one", async function () {
            this.timeout(120_000);
            const r = await runStep("preflight", stepEnvironment(l, { dataVolume: `cartie-t${id}-db-data` }));
            assert.equal(r.code, 1, r.stdout);
            assert.match(r.stdout, new RegExp(`pulumi config set cartie:dataVolume ${l.volume}`));
            assert.equal(await volumeExists(`cartie-t${id}-db-data`), false, "the preflight created a volume");
        });

        it("backup: a logical dump with size and row counts, before any legacy container is touched", async function () {
            this.timeout(180_000);
            const r = await timed("backup", () => runStep("backup", stepEnvironment(l)));
            assert.equal(r.code, 0, r.stdout + r.stderr);
            const found = manifests(l.backupDir);
            assert.equal(found.length, 1);
            manifest = found[0];
            const file = path.join(l.backupDir, manifest.file);
            assert.match(manifest.file, new RegExp(`^\\d{8}T\\d{6}Z-takeover-${l.project}\\.sql$`));
            assert.equal(manifest.reason, "takeover");
            assert.equal(fs.statSync(file).mode & 0o777, 0o600, "the dump is readable by others");
            assert.equal(fs.statSync(file).size, manifest.bytes);
            assert.deepEqual(manifest.rowCounts, { "public.users": ROWS });
            assert.match(r.stdout, new RegExp(`wrote .*${manifest.file} \\(\\d+(\\.\\d)? KiB`));
            assert.match(r.stdout, new RegExp(`rows per table: public.users=${ROWS}`));
            assert.deepEqual(fs.readdirSync(l.backupDir).filter((f) => f.startsWith(".")), [], "a partial file was left");
            for (const c of [l.db, l.web]) assert.equal((await dockerOk(["inspect", "-f", "{{.State.Status}}", c])).trim(), "running");
            assert.ok(!fs.readFileSync(file, "utf8").includes(l.password));
        });

        it("takeover: legacy containers gone (web/api first, db last), the volume kept and free", async function () {
            this.timeout(300_000);
            const r = await timed("takeover", () => runStep("takeover", stepEnvironment(l)));
            assert.equal(r.code, 0, r.stdout + r.stderr);
            const stops = [l.web, l.api, l.db].map((n) => r.stdout.indexOf(`stopping ${n}`));
            assert.ok(stops.every((i) => i >= 0) && stops[0] < stops[1] && stops[1] < stops[2], r.stdout);
            assert.ok(r.stdout.indexOf(`removing ${l.db}`) < r.stdout.indexOf(`volume ${l.volume} is free`));
            assert.deepEqual(await projectContainers(l.project), []);
            assert.equal(await volumeExists(l.volume), true, "the data volume was removed");
            assert.deepEqual(await liveOnVolume(l.volume), []);
        });

        it("a second run of every step is a no-op that says so", async function () {
            this.timeout(180_000);
            for (const step of ["preflight", "backup", "takeover"] as const) {
                const r = await timed(`second ${step}`, () => runStep(step, stepEnvironment(l)));
                assert.equal(r.code, 0, r.stdout + r.stderr);
                assert.match(r.stdout, /nothing legacy left/);
                assert.doesNotMatch(r.stdout, /stopping|removing|wrote/);
            }
            assert.equal(manifests(l.backupDir).length, 1, "the second run wrote another backup");
        });

        it("the platform's db starts on the adopted volume, the migration baselines it and the api is healthy on it: every row is still there", async function () {
            this.timeout(600_000);
            const api = await timed("api image (cached)", () => buildImage(CACHE_REPO.api, API_DIR, { NODE_IMAGE: BASE.node }, false));
            const net = `cartie-t${id}-net`;
            const dbName = `cartie-t${id}-db`;
            cleanup.network(net);
            await dockerOk(["network", "create", net]);
            // The db-password step, as the engine runs it before the db container: the adopted role already has the
            // password, so it only writes the file on the db-secrets volume, which the migration reads (lib/rotation).
            const secretsVolume = `cartie-t${id}-db-secrets`;
            cleanup.volume(secretsVolume);
            await dockerOk(["volume", "create", secretsVolume]);
            const dbAccess = { CARTIE_DB_PWFILE_VOLUME: secretsVolume, CARTIE_DB_IMAGE: BASE.postgres, CARTIE_DB_USER: "cartie", CARTIE_DB_NAME: "cartie" };
            const step = await execLikeCommandResource(DB_PASSWORD_COMMAND, { ...dbAccess, CARTIE_DB_CONTAINER: dbName, POSTGRES_PASSWORD: l.password }, REPO);
            assert.equal(step.code, 0, step.stdout + step.stderr);
            await timed("platform db start", () => startPlatformDb(dbName, net, l.volume, l.password, cleanup));
            assert.deepEqual(await liveOnVolume(l.volume), [dbName], "more than one server on the data directory");
            assert.equal(await psql(dbName, USERS_FINGERPRINT), fingerprint);
            // scripts/migrate.ts exactly as the Migration resource runs it.
            const r = await timed("migration", () =>
                execLikeCommandResource(
                    "node --import tsx scripts/migrate.ts",
                    {
                        CARTIE_MIGRATOR_IMAGE: api.ref,
                        CARTIE_NETWORK: net,
                        CARTIE_DB_CONTAINER: dbName,
                        CARTIE_MIGRATIONS_DIR: "examples/cartie/apps/api/prisma/migrations",
                        CARTIE_MIGRATION_BASELINE: "v41_baseline",
                        ...backupEnvironment({ ...BACKUP_DEFAULTS, dir: l.backupDir }, `cartie-${l.project}`),
                        ...dbAccess,
                    },
                    REPO,
                ),
            );
            assert.equal(r.code, 0, r.stdout + r.stderr);
            assert.match(r.stdout, /migrate resolve --applied v41_baseline/);
            // The baseline resolve changes the history: a verified pre-migration backup first, beside the takeover's.
            assert.match(r.stdout, /backup: wrote \S+-pre-migration-[\s\S]*\$ prisma migrate resolve/);
            assert.deepEqual(manifests(l.backupDir).map((m) => m.reason).sort(), ["pre-migration", "takeover"]);
            assert.equal(await psql(dbName, USERS_FINGERPRINT), fingerprint, "rows changed or were lost");
            assert.equal(await psql(dbName, "SELECT string_agg(migration_name, ',' ORDER BY migration_name) FROM _prisma_migrations WHERE finished_at IS NOT NULL AND rolled_back_at IS NULL;"), "v41_baseline,v42_add_sessions");

            // The restore ends healthy on the original data: the api starts on it and its health is 200.
            const apiName = `cartie-t${id}-api`;
            const seedEmail = "superadmin@cartie.test";
            cleanup.container(apiName);
            await dockerOk(
                ["run", "-d", "--name", apiName, "--network", net, "--network-alias", "api", "-e", "DATABASE_URL", "-e", "JWT_SECRET", "-e", "SEED_SUPERADMIN_PASSWORD", "-e", "SEED_SUPERADMIN_EMAIL", api.ref],
                { env: { DATABASE_URL: databaseUrl(l.password), JWT_SECRET: `${secret()}${secret()}`, SEED_SUPERADMIN_PASSWORD: secret(), SEED_SUPERADMIN_EMAIL: seedEmail } },
            );
            let healthy = false;
            for (let i = 0; i < 60 && !healthy; i++) {
                // The program's own healthcheck command, run in the api container.
                healthy = (await docker(["exec", apiName, ...apiHealthcheckCommand().slice(1)])).code === 0;
                if (!healthy) await new Promise((r) => setTimeout(r, 1000));
            }
            assert.ok(healthy, `the api on the adopted data is not healthy:\n${(await docker(["logs", apiName])).stderr}`);
            assert.equal(await psql(dbName, `SELECT count(*) FROM users WHERE email <> '${seedEmail}';`), String(ROWS), "legacy rows lost");
            assert.equal(await psql(dbName, `SELECT count(*) FROM users WHERE email = '${seedEmail}';`), "1");
        });

        it("the backup restores into an empty database with the same rows", async function () {
            this.timeout(300_000);
            const restore = `infra2t${id}-restore`;
            cleanup.container(restore);
            await dockerOk(["run", "-d", "--name", restore, "-e", "POSTGRES_USER=cartie", "-e", "POSTGRES_DB=cartie", "-e", "POSTGRES_PASSWORD", BASE.postgres], { env: { POSTGRES_PASSWORD: secret() } });
            await waitPgReady(restore);
            await psql(restore, "CREATE DATABASE restored;");
            await timed("restore", () =>
                dockerOk(["exec", "-i", restore, "psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-U", "cartie", "-d", "restored"], { input: fs.readFileSync(path.join(l.backupDir, manifest.file), "utf8") }),
            );
            assert.equal(await psql(restore, "SELECT count(*) FROM users;", "restored"), String(manifest.rowCounts["public.users"]));
            assert.equal(await psql(restore, USERS_FINGERPRINT, "restored"), fingerprint);
        });
    });

    describe("an interruption after the backup", () => {
        let l: Legacy;
        let fingerprint: string;
        before(async function () {
            this.timeout(300_000);
            l = await buildLegacy({ project: `infra2t${id}i`, port: await freePort(), password: secret(), rows: 200, backupDir: path.join(backupRoot, "interrupted"), cleanup });
            fingerprint = await psql(l.db, USERS_FINGERPRINT);
            for (const step of ["preflight", "backup"] as const) {
                const r = await runStep(step, stepEnvironment(l));
                assert.equal(r.code, 0, r.stdout + r.stderr);
            }
        });

        it("the takeover killed while the legacy db stops, then re-run, finishes cleanly on the same data", async function () {
            this.timeout(600_000);
            const killed = await runStepAndKill("takeover", stepEnvironment(l), new RegExp(`stopping ${l.db}`));
            assert.ok(killed.killed, `the takeover finished before it could be killed:\n${killed.output}`);
            assert.ok(!(await containerExists(l.web)) && !(await containerExists(l.api)), "web and api should be gone before the db is stopped");
            // What the next `pulumi up` does: preflight and backup are in the state already; the takeover runs again.
            const r = await runStep("takeover", stepEnvironment(l));
            assert.equal(r.code, 0, `the takeover after the interruption:\n${r.stdout}${r.stderr}`);
            assert.match(r.stdout, new RegExp(`backup in place: \\d{8}T\\d{6}Z-takeover-${l.project}`));
            assert.deepEqual(await projectContainers(l.project), []);
            assert.equal(await volumeExists(l.volume), true);
            assert.deepEqual(await liveOnVolume(l.volume), []);
            for (const step of ["preflight", "backup", "takeover"] as const) {
                const again = await runStep(step, stepEnvironment(l));
                assert.equal(again.code, 0, again.stdout + again.stderr);
                assert.match(again.stdout, /nothing legacy left/);
            }
            assert.equal(manifests(l.backupDir).length, 1);
            const net = `cartie-t${id}i-net`;
            cleanup.network(net);
            await dockerOk(["network", "create", net]);
            const dbName = `cartie-t${id}i-db`;
            await startPlatformDb(dbName, net, l.volume, l.password, cleanup);
            assert.equal(await psql(dbName, USERS_FINGERPRINT), fingerprint);
            const logs = await docker(["logs", dbName]);
            assert.doesNotMatch(`${logs.stdout}${logs.stderr}`, /PANIC|could not open file|corrupt/i);
        });
    });
});
