/**
 * The takeover on the compose layouts people run, on real Docker, PostgreSQL 15 and Prisma: data in
 * a PGDATA folder of the volume, a bind-mounted data directory, a user and database of their own,
 * and a volume holding something that is not a data directory. For each: `npm run takeover:plan`
 * on the host, the program evaluated with what it printed, the three steps run exactly as the
 * program registers them (command and environment; only the backups folder is a temporary one),
 * then the platform's db created from the program's registered inputs and the migration run as its
 * resource runs it. Either every row is there, or the refusal came before anything changed.
 */
import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { MIGRATE_COMMAND } from "../../../components/migration";
import { LABELS } from "../../../lib/docker/labels";
import { takeoverPlanMain } from "../../../lib/takeover/planCli";
import { dockerHost } from "../../../lib/takeover/host";
import { createFromInputs, waitHealthy } from "../support/containers";
import { RealStack, T, evaluateRealStack, removeProjectDir, runDbPasswordStep } from "../support/program";
import { Cleanup, Exec, REPO, docker, dockerOk, execLikeCommandResource, freePort, runId } from "../support/run";
import { BASE, CACHE_REPO, buildImage, requireBaseImages } from "../support/sample";
import { Legacy, LegacyLayout, PG_DATA, buildLegacy, composeLabels, projectContainers, psql, tableChecksums, volumeExists, waitPgReady } from "./legacy";

const ROWS = 300;
const STEPS = ["legacy-preflight", "legacy-backup", "legacy-takeover"] as const;
const secret = (): string => `legacy-pw-${runId()}${runId()}`;

interface PlanRun extends Exec {
    /** `cartie:<key>` → value, from the `pulumi config set` lines printed. */
    config: Record<string, string>;
    lines: string[];
}

/** `npm run takeover:plan -- <project>` from the project folder, as on-call runs it. */
async function takeoverPlan(project: string, extra: string[] = [], env: Record<string, string> = {}): Promise<PlanRun> {
    const r = await execLikeCommandResource(`npm run -s takeover:plan -- ${project} ${extra.join(" ")}`, env, REPO);
    const lines = r.stdout.split("\n").filter((l) => l.startsWith("pulumi config set"));
    const config: Record<string, string> = {};
    for (const line of lines) {
        const m = /^pulumi config set (cartie:\w+) (.+)$/.exec(line);
        assert.ok(m, `not a config line: ${line}`);
        config[m[1]] = m[2].replace(/^'(.*)'$/, "$1");
    }
    return { ...r, config, lines };
}

/** Each legacy container's id, state and restart count, and whatever else the check adds: equal before and after a refusal. */
async function containerStates(project: string): Promise<string[]> {
    const names = await projectContainers(project);
    return Promise.all(names.map(async (n) => (await dockerOk(["inspect", "-f", "{{.Name}} {{.Id}} {{.State.Status}} {{.State.StartedAt}} {{.RestartCount}}", n])).trim()));
}

function backupFiles(dir: string): string[] {
    return fs.existsSync(dir) ? fs.readdirSync(dir) : [];
}

function noSecret(r: Exec, password: string): void {
    for (const form of [password, encodeURIComponent(password)]) assert.ok(!`${r.stdout}${r.stderr}`.includes(form), "the password was printed");
}

describe("takeover of the compose layouts people run (real Docker, Postgres 15, Prisma)", function () {
    const cleanup = new Cleanup();
    const id = runId();
    const backupRoot = fs.mkdtempSync(path.join(os.tmpdir(), "cartie-layouts-backups-"));
    cleanup.dir(backupRoot);
    let apiImage: { ref: string } | undefined;

    before(async () => {
        await requireBaseImages();
    });
    after(async function () {
        this.timeout(180_000);
        await cleanup.run();
    });

    /** The program evaluated for this host with the settings takeover:plan printed (and the legacy password, as --store-password would store it). */
    async function stackFor(suffix: string, l: Legacy, config: Record<string, string>): Promise<RealStack> {
        const stack = await evaluateRealStack(`${id}${suffix}`, l.port, { config: { ...config, "cartie:postgresPassword": l.password } });
        cleanup.add("project dir", () => Promise.resolve(removeProjectDir(stack)));
        return stack;
    }

    /** One registered step: its command line and environment, the backups into this run's folder. */
    async function runStep(stack: RealStack, step: (typeof STEPS)[number], backupDir: string): Promise<Exec> {
        const cmd = stack.command(step);
        assert.equal(cmd.environment.CARTIE_BACKUP_DIR, stack.backupDir, "the step does not back up into the stack's cartie:backupDir");
        return execLikeCommandResource(cmd.create, { ...cmd.environment, CARTIE_BACKUP_DIR: backupDir });
    }

    /** The platform's db from its registered inputs (image, envs, mounts, healthcheck, network alias), healthy. */
    async function platformDb(stack: RealStack): Promise<string> {
        const network = (stack.run.one(T.network, "network").inputs as { name: string }).name;
        cleanup.network(network);
        await dockerOk(["network", "create", network]);
        await runDbPasswordStep(stack, cleanup);
        const spec = stack.container("db");
        cleanup.container(spec.name);
        await createFromInputs(spec, { image: stack.remoteImageName("db") });
        await waitHealthy(spec.name, 120_000);
        return spec.name;
    }

    /** scripts/migrate.ts exactly as the Migration resource runs it, the migrator tag pointing at the api image. */
    async function migrate(stack: RealStack): Promise<Exec> {
        const reg = stack.image("api-image");
        apiImage ??= await buildImage(CACHE_REPO.api, path.resolve(REPO, reg.build.context), reg.build.args, false);
        const tag = stack.run.one(T.tag, "migration-image").inputs as { targetImage: string };
        await dockerOk(["tag", apiImage.ref, tag.targetImage]);
        cleanup.imageTag(tag.targetImage);
        const cmd = stack.command("migration");
        assert.equal(cmd.create, MIGRATE_COMMAND);
        return execLikeCommandResource(cmd.create, cmd.environment);
    }

    async function dbLog(name: string): Promise<string> {
        const r = await docker(["logs", name]);
        return `${r.stdout}${r.stderr}`;
    }

    /** The whole path for a layout that can be adopted: plan, steps, platform db, migration; every row of every table kept. */
    async function adopt(suffix: string, layout: LegacyLayout, expected: Record<string, string>): Promise<void> {
        const user = layout.user ?? "cartie";
        const dbName = layout.db ?? "cartie";
        const backupDir = path.join(backupRoot, suffix);
        const l = await buildLegacy({ project: `infra2t${id}${suffix}`, port: await freePort(), password: secret(), rows: ROWS, backupDir, cleanup, layout: { ...layout, auditLogRows: 40 } });
        const before = await tableChecksums(l.db, dbName, user);
        assert.deepEqual(Object.keys(before), ["audit_log", "users"]);
        assert.match(before.users, new RegExp(`^${ROWS}:`));

        const plan = await takeoverPlan(l.project);
        assert.equal(plan.code, 0, plan.stdout + plan.stderr);
        noSecret(plan, l.password);
        assert.deepEqual(plan.config, { "cartie:legacyComposeProject": l.project, "cartie:dataVolume": l.volume, "cartie:postgresImage": BASE.postgres, ...expected });
        assert.match(plan.stdout, new RegExp(`npm run takeover:plan -- ${l.project} --store-password`));

        const stack = await stackFor(suffix, l, plan.config);
        // What preview shows of the db: the data folder in a label (its environment is one secret), the healthcheck as the data's user.
        const dbSpec = stack.container("db");
        const sub = expected["cartie:pgdataSubdir"];
        assert.deepEqual(dbSpec.labels?.find((x) => x.label === LABELS.pgdata)?.value, sub ? `${PG_DATA}/${sub}` : undefined);
        assert.equal(dbSpec.envs?.includes(`PGDATA=${PG_DATA}/${sub}`), sub !== undefined);
        assert.deepEqual(dbSpec.mounts?.[0], { type: "volume", source: l.volume, target: PG_DATA });
        assert.deepEqual(dbSpec.healthcheck?.tests, ["CMD", "pg_isready", "-U", user, "-d", dbName]);
        for (const step of STEPS) {
            const r = await runStep(stack, step, backupDir);
            assert.equal(r.code, 0, `${step}:\n${r.stdout}\n${r.stderr}`);
            noSecret(r, l.password);
            if (step === "legacy-preflight") assert.match(r.stdout, /ok: data volume .*: PostgreSQL 15 data directory( in [\w/]+\/)?, matches local\/postgres:15/);
        }
        assert.deepEqual(await projectContainers(l.project), []);
        assert.equal(await volumeExists(l.volume), true);
        const manifests = backupFiles(backupDir).filter((f) => f.endsWith(".json"));
        assert.equal(manifests.length, 1);
        const manifest = JSON.parse(fs.readFileSync(path.join(backupDir, manifests[0]), "utf8")) as { rowCounts: Record<string, number>; user: string; database: string };
        assert.deepEqual(manifest.rowCounts, { "public.audit_log": 40, "public.users": ROWS });
        assert.deepEqual([manifest.user, manifest.database], [user, dbName]);

        const db = await platformDb(stack);
        assert.deepEqual(await tableChecksums(db, dbName, user), before, "rows changed or were lost when the platform's db started");
        const log = await dbLog(db);
        assert.doesNotMatch(log, /initdb|automatic recovery in progress|not properly shut down|redo starts/i, `the platform's db did not open the legacy data as it was:\n${log}`);

        const m = await migrate(stack);
        assert.equal(m.code, 0, `${m.stdout}\n${m.stderr}`);
        noSecret(m, l.password);
        assert.match(m.stdout, /migrate resolve --applied v41_baseline/);
        assert.equal(
            await psql(db, "SELECT string_agg(migration_name, ',' ORDER BY migration_name) FROM _prisma_migrations WHERE finished_at IS NOT NULL AND rolled_back_at IS NULL;", dbName, user),
            "v41_baseline,v42_add_sessions",
        );
        const after = await tableChecksums(db, dbName, user);
        assert.deepEqual({ audit_log: after.audit_log, users: after.users }, before, "rows changed or were lost in the migration");
    }

    it("data in a PGDATA folder of the volume (PGDATA=/var/lib/postgresql/data/pgdata): planned, refused until configured, then adopted with every row", async function () {
        this.timeout(900_000);
        // The host first: without cartie:pgdataSubdir the preflight now refuses, naming it, before anything changes.
        const suffix = "p";
        const probeL = await buildLegacy({
            project: `infra2t${id}${suffix}x`,
            port: await freePort(),
            password: secret(),
            rows: 20,
            backupDir: path.join(backupRoot, "px"),
            cleanup,
            layout: { pgdata: `${PG_DATA}/pgdata`, calmApi: true },
        });
        const stack = await stackFor(`${suffix}x`, probeL, { "cartie:legacyComposeProject": probeL.project, "cartie:dataVolume": probeL.volume });
        const states = await containerStates(probeL.project);
        for (const step of STEPS) {
            const r = await runStep(stack, step, probeL.backupDir);
            assert.equal(r.code, 1, `${step} did not refuse:\n${r.stdout}`);
            assert.match(`${r.stdout}${r.stderr}`, /keeps its data directory in pgdata\/ of volume .*Run `pulumi config set cartie:pgdataSubdir pgdata`/);
        }
        assert.deepEqual(await containerStates(probeL.project), states, "a refused step changed a legacy container");
        assert.deepEqual(backupFiles(probeL.backupDir), []);

        await adopt(suffix, { pgdata: `${PG_DATA}/pgdata` }, { "cartie:pgdataSubdir": "pgdata" });
    });

    it("a user and database of its own (app / cartie_prod): planned with cartie:dbUser and cartie:dbName, adopted with every row", async function () {
        this.timeout(900_000);
        await adopt("u", { user: "app", db: "cartie_prod" }, { "cartie:dbUser": "app", "cartie:dbName": "cartie_prod" });
    });

    it("--store-password: the legacy password reaches `pulumi config set --secret` on stdin only, and the real CLI run never prints it", async function () {
        this.timeout(300_000);
        const l = await buildLegacy({ project: `infra2t${id}s`, port: await freePort(), password: secret(), rows: 5, backupDir: path.join(backupRoot, "s"), cleanup, layout: { calmApi: true } });
        const calls: { args: string[]; stdin: string }[] = [];
        const out: string[] = [];
        const code = await takeoverPlanMain([l.project, "--store-password"], {
            host: dockerHost(),
            pulumi: (args, stdin) => {
                calls.push({ args, stdin });
                return Promise.resolve({ code: 0, stdout: "", stderr: "" });
            },
            out: (line) => out.push(line),
            err: (line) => out.push(line),
        });
        assert.equal(code, 0, out.join("\n"));
        assert.deepEqual(calls, [{ args: ["config", "set", "--secret", "cartie:postgresPassword"], stdin: l.password }]);
        assert.match(out.join("\n"), /accepted by the running db/);
        assert.ok(!out.join("\n").includes(l.password));
        // The real script: this machine has no Pulumi CLI, so storing fails; it says so and prints no secret.
        const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), "cartie-layouts-state-"));
        cleanup.dir(stateDir);
        const real = await takeoverPlan(l.project, ["--store-password"], { PULUMI_BACKEND_URL: `file://${stateDir}`, PULUMI_CONFIG_PASSPHRASE: "not-used-here" });
        noSecret(real, l.password);
        if (real.code !== 0) assert.match(real.stderr, /failed \(exit \d+\).*the password was not stored/s);
    });

    it("a bind-mounted data directory: refused before anything changes, with steps that, followed, make it adoptable", async function () {
        this.timeout(900_000);
        const bindDir = fs.mkdtempSync(path.join(os.tmpdir(), "cartie-layouts-bind-"));
        cleanup.dir(bindDir);
        const backupDir = path.join(backupRoot, "b");
        const l = await buildLegacy({ project: `infra2t${id}b`, port: await freePort(), password: secret(), rows: ROWS, backupDir, cleanup, layout: { bindDir, calmApi: true } });
        const before = await tableChecksums(l.db);

        const plan = await takeoverPlan(l.project);
        assert.equal(plan.code, 1, plan.stdout);
        assert.deepEqual(plan.lines, [], "settings printed for a layout the platform refuses");
        assert.match(plan.stderr, new RegExp(`keeps its Postgres data in a bind mount \\(host folder ${bindDir} at ${PG_DATA}\\), not a Docker volume`));
        noSecret(plan, l.password);

        // What on-call would try: the project and the password only. Every step refuses; nothing changes.
        const stack = await stackFor("b", l, { "cartie:legacyComposeProject": l.project });
        const dataVolume = (stack.run.one(T.volume, "db-data").inputs as { name: string }).name;
        const states = await containerStates(l.project);
        for (const step of STEPS) {
            const r = await runStep(stack, step, backupDir);
            assert.equal(r.code, 1, `${step} did not refuse:\n${r.stdout}`);
            assert.match(`${r.stdout}${r.stderr}`, /bind mount .*docker volume create .*nothing was changed/s);
            noSecret(r, l.password);
        }
        assert.deepEqual(await containerStates(l.project), states, "a refused step changed a legacy container");
        assert.deepEqual(backupFiles(backupDir), []);
        assert.equal(await volumeExists(dataVolume), false, "a refused step created the platform's volume");
        assert.deepEqual(await tableChecksums(l.db), before);

        // The refusal's own steps, as printed (the compose edit done by recreating the container on the volume, with its labels).
        const problem = plan.stderr;
        assert.match(problem, new RegExp(`docker stop -t 60 ${l.db}`));
        assert.match(problem, new RegExp(`docker volume create ${l.volume}`));
        const cp = /`(docker run --rm --network none --entrypoint cp [^`]+)`/.exec(problem)?.[1];
        assert.ok(cp, problem);
        await dockerOk(["stop", "-t", "60", l.db]);
        await dockerOk(["volume", "create", l.volume]);
        await dockerOk(cp.split(" ").slice(1));
        await dockerOk(["rm", l.db]);
        await dockerOk(
            ["run", "-d", "--name", l.db, "--network", l.network, "--network-alias", "db", "--restart", "always", ...composeLabels(l.project, "db"), "-v", `${l.volume}:${PG_DATA}`, "-e", "POSTGRES_USER=cartie", "-e", "POSTGRES_DB=cartie", "-e", "POSTGRES_PASSWORD", BASE.postgres],
            { env: { POSTGRES_PASSWORD: l.password } },
        );
        await waitPgReady(l.db);
        assert.deepEqual(await tableChecksums(l.db), before, "the copy into the volume lost rows");

        const moved = await takeoverPlan(l.project);
        assert.equal(moved.code, 0, moved.stdout + moved.stderr);
        assert.deepEqual(moved.config, { "cartie:legacyComposeProject": l.project, "cartie:dataVolume": l.volume, "cartie:postgresImage": BASE.postgres });
        const adopted = await stackFor("b2", l, moved.config);
        for (const step of STEPS) {
            const r = await runStep(adopted, step, backupDir);
            assert.equal(r.code, 0, `${step}:\n${r.stdout}\n${r.stderr}`);
        }
        const db = await platformDb(adopted);
        assert.deepEqual(await tableChecksums(db), before);
        assert.ok(fs.existsSync(path.join(bindDir, "PG_VERSION")), "the host folder was removed");
    });

    it("a volume holding something that is not a data directory: takeover:plan and every step refuse, saying what it holds; nothing changes", async function () {
        this.timeout(300_000);
        const project = `infra2t${id}n`;
        const l: Legacy = { project, volume: `${project}_db-data`, network: `${project}_default`, db: `${project}-db-1`, api: `${project}-api-1`, web: `${project}-web-1`, port: await freePort(), password: secret(), backupDir: path.join(backupRoot, "n") };
        cleanup.volume(l.volume);
        cleanup.network(l.network);
        for (const c of [l.db, l.api, l.web]) cleanup.container(c);
        await dockerOk(["network", "create", l.network]);
        await dockerOk(["volume", "create", l.volume]);
        // What someone left in the volume: a dump and notes, no data directory.
        await dockerOk(["run", "--rm", "-v", `${l.volume}:/d`, BASE.busybox, "sh", "-c", "echo 'CREATE TABLE t (x int);' > /d/dump.sql && mkdir /d/notes && echo keep > /d/notes/todo.txt"]);
        // The legacy db: the official layout on that volume, so it can't start (initdb refuses a non-empty folder); no restart loop.
        await dockerOk(["run", "-d", "--name", l.db, "--network", l.network, ...composeLabels(project, "db"), "-v", `${l.volume}:${PG_DATA}`, "-e", "POSTGRES_USER=cartie", "-e", "POSTGRES_DB=cartie", "-e", "POSTGRES_PASSWORD", BASE.postgres], {
            env: { POSTGRES_PASSWORD: l.password },
        });
        await dockerOk(["run", "-d", "--name", l.api, "--network", l.network, ...composeLabels(project, "api"), BASE.busybox, "sleep", "3600"]);
        // Published on every interface, as compose's `ports: ["8082:8080"]` does: Docker reports it per address family.
        await dockerOk(["run", "-d", "--name", l.web, "--network", l.network, ...composeLabels(project, "web"), "-p", `${l.port}:8080`, BASE.busybox, "sleep", "3600"]);
        await dockerOk(["wait", l.db]);
        const listing = async (): Promise<string> => dockerOk(["run", "--rm", "-v", `${l.volume}:/d:ro`, BASE.busybox, "sh", "-c", "cd /d && find . | sort && find . -type f -exec md5sum {} + | sort"]);
        const contentBefore = await listing();
        const states = await containerStates(project);

        const plan = await takeoverPlan(project);
        assert.equal(plan.code, 1, plan.stdout);
        assert.deepEqual(plan.lines, []);
        assert.match(plan.stderr, new RegExp(`${l.volume}'s root is neither a Postgres data directory nor the parent of the one legacy db ${l.db} uses .*it holds dump\\.sql, notes`));

        const stack = await stackFor("n", l, { "cartie:legacyComposeProject": project, "cartie:dataVolume": l.volume });
        for (const step of STEPS) {
            const r = await runStep(stack, step, l.backupDir);
            assert.equal(r.code, 1, `${step} did not refuse:\n${r.stdout}`);
            assert.match(`${r.stdout}${r.stderr}`, /root is neither a Postgres data directory nor the parent .*nothing was changed/s);
            if (step === "legacy-preflight") {
                // Each published port once, not once per address family and once from the container's config.
                assert.match(r.stdout, new RegExp(`${l.web} \\(running; holds public port 0\\.0\\.0\\.0:${l.port}->8080/tcp; compose project`));
                assert.equal(r.stdout.split(`:${l.port}->`).length - 1, 1, r.stdout);
            }
        }
        assert.deepEqual(await containerStates(project), states, "a refused step changed a legacy container");
        assert.equal(await listing(), contentBefore, "the volume's content changed");
        assert.deepEqual(backupFiles(l.backupDir), []);
        // The platform's db is never started on it: its container would crash-loop in initdb.
        const db = stack.container("db");
        assert.equal((await docker(["container", "inspect", db.name])).code, 1);
        assert.deepEqual(db.labels?.find((x) => x.label === LABELS.pgdata), undefined);
    });
});
