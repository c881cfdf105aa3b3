/**
 * `npm run restore` killed with SIGKILL (its whole process group, as a closed terminal or the OOM
 * killer would) in the middle of an image build, a release and a migration, then `npm run restore`
 * alone: the stale lock is cleared with a notice, the processes the killed run left are ended,
 * a migration it started is waited for, nothing is duplicated and no row is lost. And a migration
 * whose own process died half-way is detected and explained with the backup taken before it and
 * the exact command to put it back.
 *
 * Each run is the real command a person types, in a project directory of its own with the state in
 * its `.pulumi/` and the secrets `npm run restore` generated into `.env` on its first run.
 */
import { strict as assert } from "node:assert";
import { ChildProcess, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parseMarker, RUN_VARIABLE } from "../../../lib/restore/leftovers";
import { listProcesses } from "../../../lib/restore/procfs";
import { countUsers, psqlIn, writeUsers } from "../support/db";
import { makeEngineProject, requireEngine } from "../support/engineStack";
import { BASE, platformPostgresImage, requireBaseImages } from "../support/sample";
import { Cleanup, docker, dockerOk, exec, freePort, httpGet, runId, sleep, waitFor } from "../support/run";

interface Restore {
    child: ChildProcess;
    output: () => string;
    done: Promise<number>;
    /** The exit code once the run ended (undefined while it runs). */
    exited?: number;
}

/** A process that exists and is not a zombie (this machine's PID 1 never reaps orphans: a killed one stays Z). */
const running = (pid: number): boolean => {
    try {
        return !/^\d+ \(.*\) [ZX] /s.test(fs.readFileSync(`/proc/${pid}/stat`, "utf8"));
    } catch {
        return false;
    }
};

/** waitFor's check, failing at once with the run's output when the restore ended before the moment came. */
const during =
    <T>(r: Restore, check: () => Promise<T | undefined>) =>
    async (): Promise<T | undefined> => {
        if (r.exited !== undefined) throw new Error(`npm run restore ended (exit ${r.exited}) before the moment to kill it:\n${r.output().slice(-4000)}`);
        return check();
    };

describe("real engine: npm run restore killed at any point, then npm run restore alone finishes the work", function () {
    const cleanup = new Cleanup();
    const stack = `real-${runId()}`;
    const prefix = `cartie-${stack}`;
    let dir: string;
    let port: number;
    /** A migrator of this stack (on its network: other stacks may migrate at the same time). */
    const thisStacksMigrator = ["--filter", "label=io.cartie.platform.component=migration", "--filter", `network=${prefix}-net`];
    const env = (): NodeJS.ProcessEnv => ({ ...process.env, CARTIE_STACK: stack, CI: "true" });

    /** `npm run restore -- --yes` in its own process group, its output collected. */
    const start = (): Restore => {
        const child = spawn("npm", ["run", "--silent", "restore", "--", "--yes"], { cwd: dir, env: env(), detached: true, stdio: ["ignore", "pipe", "pipe"] });
        let out = "";
        child.stdout?.on("data", (d: Buffer) => (out += d.toString()));
        child.stderr?.on("data", (d: Buffer) => (out += d.toString()));
        const r: Restore = { child, output: () => out, done: Promise.resolve(0) };
        r.done = new Promise<number>((resolve) =>
            child.on("close", (code) => {
                r.exited = code ?? 137;
                resolve(r.exited);
            }),
        );
        return r;
    };
    const restore = async (): Promise<string> => {
        const r = start();
        const code = await r.done;
        fs.writeFileSync(path.join(os.tmpdir(), `cartie-interrupted-${stack}.log`), r.output());
        assert.equal(code, 0, `npm run restore failed (exit ${code}); its whole output is in ${path.join(os.tmpdir(), `cartie-interrupted-${stack}.log`)}:\n${r.output().slice(-6000)}`);
        return r.output();
    };
    /** SIGKILL to the restore's whole process group; Pulumi's plugins have groups of their own and survive, as after a real kill. */
    const kill = async (r: Restore): Promise<void> => {
        process.kill(-(r.child.pid ?? 0), "SIGKILL");
        await r.done;
    };
    /** Processes of a run of this stack (the marker every restore puts in the CLI's environment). */
    const markedProcesses = () => listProcesses().filter((p) => parseMarker(p.environ[RUN_VARIABLE])?.stack === stack);
    const noChanges = async (): Promise<void> => {
        const r = await exec("npm", ["run", "--silent", "pulumi", "--", "preview", "--expect-no-changes", "--non-interactive"], { cwd: dir, env: env() });
        assert.equal(r.code, 0, `preview shows changes after the restore:\n${r.stdout.slice(-4000)}${r.stderr.slice(-2000)}`);
    };
    const appContainers = async (role: string): Promise<string[]> =>
        (await dockerOk(["ps", "-a", "--filter", `label=io.cartie.platform.stack=${stack}`, "--filter", `label=io.cartie.platform.component=${role}`, "--format", "{{.Names}}"])).split("\n").filter(Boolean);
    /** A new migration with the model's field beside it, as a person commits one (the model check fails an `up` whose migrations and schema.prisma disagree). */
    const addMigration = (name: string, sql: string, field: string): void => {
        const d = path.join(dir, "examples/cartie/apps/api/prisma/migrations", name);
        fs.mkdirSync(d, { recursive: true });
        fs.writeFileSync(path.join(d, "migration.sql"), sql);
        const schema = path.join(dir, "examples/cartie/apps/api/prisma/schema.prisma");
        const text = fs.readFileSync(schema, "utf8");
        const at = text.indexOf("  sessions     Session[]");
        assert.ok(at > 0, "the sample's model GlobalUser changed: update this test");
        fs.writeFileSync(schema, `${text.slice(0, at)}  ${field}\n${text.slice(at)}`);
    };

    before(async () => {
        await requireEngine();
        await requireBaseImages();
        dir = makeEngineProject();
        port = await freePort();
        const backups = path.join(dir, "backups");
        // What a person with the local base images writes before their first restore (no registry here).
        fs.writeFileSync(
            path.join(dir, `Pulumi.${stack}.yaml`),
            [
                "config:",
                `  cartie:postgresImage: ${await platformPostgresImage()}`,
                `  cartie:caddyImage: ${BASE.caddy}`,
                `  cartie:nodeImage: ${BASE.node}`,
                `  cartie:webRuntimeImage: ${BASE.caddy}`,
                `  cartie:publicPort: "${port}"`,
                "  cartie:publicUrl: http://localhost:8082",
                "  cartie:seedSuperadminEmail: admin@cartie.test",
                `  cartie:backupDir: ${backups}`,
                "",
            ].join("\n"),
        );
        cleanup.add(`stack ${stack}`, async () => {
            for (const p of markedProcesses()) process.kill(p.pid, "SIGKILL");
            const ids = (await docker(["ps", "-aq", "--filter", `label=io.cartie.platform.stack=${stack}`])).stdout.split("\n").filter(Boolean);
            const migrators = (await docker(["ps", "-aq", "--filter", "label=io.cartie.platform.run"])).stdout.split("\n").filter(Boolean);
            const named = (await docker(["ps", "-aq", "--filter", `name=${prefix}-`])).stdout.split("\n").filter(Boolean);
            if (ids.length + named.length > 0) await docker(["rm", "-f", ...new Set([...ids, ...named])]);
            for (const m of migrators) {
                const label = (await docker(["inspect", "--format", '{{index .Config.Labels "io.cartie.platform.run"}}', m])).stdout.trim();
                if (parseMarker(label)?.stack === stack) await docker(["rm", "-f", m]);
            }
            await docker(["network", "rm", `${prefix}-net`]);
            await docker(["volume", "rm", "-f", `${prefix}-db-data`, `${prefix}-db-secrets`]);
            const images = (await docker(["images", "--format", "{{.Repository}}:{{.Tag}}", "--filter", `reference=${prefix}-*`])).stdout.split("\n").filter(Boolean);
            if (images.length > 0) await docker(["image", "rm", "--no-prune", ...images]);
            fs.rmSync(dir, { recursive: true, force: true });
        });
    });
    after(() => cleanup.run());

    it("killed during the first image build: the next restore clears the lock, ends what the killed run left, and converges", async () => {
        const first = start();
        // The engine announced the api image's create (its build runs from then on, seconds even from the layer cache).
        await waitFor("the api image build", during(first, () => Promise.resolve(/docker:index\/image:Image::api-image\]/.test(first.output()) ? true : undefined)), 600_000, 100);
        await sleep(1500);
        await kill(first);
        const left = markedProcesses();
        assert.ok(left.length > 0, "the kill left nothing running: the scenario did not happen");
        const lockDir = path.join(dir, ".pulumi/.pulumi/locks/organization/cartie-platform", stack);
        assert.ok(fs.readdirSync(lockDir).some((f) => f.endsWith(".json")), "the killed run left no lock");

        const out = await restore();
        assert.match(out, /cartie restore: cleared the stack's lock, taken by pid \d+ on \S+ .*which is gone: that update was interrupted; this one finishes it/);
        assert.match(out, /cartie restore: ending \d+ process\(es\) the interrupted run left/);
        for (const p of left) assert.equal(running(p.pid), false, `pid ${p.pid} (${p.command}) of the killed run still runs`);
        assert.equal((await appContainers("api")).length, 1);
        assert.equal((await appContainers("web")).length, 1);
        for (const p of ["/", "/api/health"]) assert.equal((await httpGet(`http://127.0.0.1:${port}${p}`))?.status, 200, p);
        await noChanges();
        await writeUsers(`${prefix}-db`, "interrupted", 300);
    });

    it("killed during a release: the next restore finishes it; one api and one web container, the new release serving, no row lost", async () => {
        fs.writeFileSync(path.join(dir, "examples/cartie/apps/api/release.txt"), "release-2\n");
        const oldApi = await appContainers("api");
        const r = start();
        await waitFor("the release step", during(r, () => Promise.resolve(markedProcesses().some((p) => p.command.includes("scripts/release.ts")) ? true : undefined)), 300_000, 100);
        await sleep(800);
        await kill(r);
        const out = await restore();
        assert.match(out, /cleared the stack's lock/);
        const api = await appContainers("api");
        assert.equal(api.length, 1, `api containers: ${api.join(", ")}`);
        assert.notDeepEqual(api, oldApi, "the new release is not the one serving");
        assert.equal((await appContainers("web")).length, 1);
        assert.equal(await countUsers(`${prefix}-db`, "interrupted"), 300);
        await noChanges();
    });

    it("killed while a migration runs: the next restore waits for it instead of starting another, then converges with it applied once", async () => {
        addMigration("v43_add_nickname", `-- A slow, real change: the restore is killed while it runs.\nSELECT pg_sleep(8);\nALTER TABLE "users" ADD COLUMN "nickname" TEXT;\n`, "nickname     String?");
        const r = start();
        await waitFor(
            "the migrator container",
            during(r, async () => ((await docker(["ps", "-q", "--filter", "label=io.cartie.platform.run", ...thisStacksMigrator])).stdout.trim() ? true : undefined)),
            300_000,
            200,
        );
        await sleep(1000);
        await kill(r);
        const out = await restore();
        assert.match(out, /waiting for \S+ \(a migration the interrupted run started\) to finish/);
        const history = await psqlIn(`${prefix}-db`, `SELECT migration_name || ':' || (finished_at IS NOT NULL) FROM _prisma_migrations WHERE migration_name = 'v43_add_nickname';`);
        assert.equal(history, "v43_add_nickname:true", "applied once, and finished");
        assert.equal(await countUsers(`${prefix}-db`, "interrupted"), 300);
        await noChanges();
    });

    it("a migration whose own process died half-way is explained with the backup taken before it and the exact command; after that command one restore converges", async () => {
        addMigration("v44_add_locale", `SELECT pg_sleep(20);\nALTER TABLE "users" ADD COLUMN "locale" TEXT;\n`, "locale       String?");
        const r = start();
        const migrator = await waitFor(
            "the migrator applying v44",
            during(r, async () => {
                const id = (await docker(["ps", "-q", ...thisStacksMigrator])).stdout.trim().split("\n")[0];
                if (!id) return undefined;
                const started = await psqlIn(`${prefix}-db`, "SELECT count(*) FROM _prisma_migrations WHERE migration_name = 'v44_add_locale' AND finished_at IS NULL;").catch(() => "0");
                return started === "1" ? id : undefined;
            }),
            300_000,
            200,
        );
        // The host loses the migration's process (an OOM kill, a reboot), and the restore with it.
        await dockerOk(["kill", migrator]);
        await kill(r);
        const failed = start();
        assert.notEqual(await failed.done, 0, "the restore went on past an interrupted migration");
        const text = failed.output();
        assert.match(text, /migration "v44_add_locale" started and never finished: the run applying it was interrupted/);
        const cmd = /`npm run restore-backup -- (\S+\.sql)`/.exec(text);
        assert.ok(cmd, `no restore-backup command in:\n${text.slice(-3000)}`);
        assert.ok(fs.existsSync(path.resolve(dir, cmd[1])), `the named backup ${cmd[1]} does not exist`);

        const put = await exec("npm", ["run", "--silent", "restore-backup", "--", cmd[1], "--yes", "--stack", stack], { cwd: dir, env: env() });
        assert.equal(put.code, 0, `restore-backup failed:\n${put.stdout}${put.stderr}`);
        await restore();
        const history = await psqlIn(`${prefix}-db`, "SELECT string_agg(migration_name || ':' || (finished_at IS NOT NULL), ',' ORDER BY migration_name) FROM _prisma_migrations WHERE migration_name LIKE 'v44%';");
        assert.equal(history, "v44_add_locale:true");
        assert.equal(await countUsers(`${prefix}-db`, "interrupted"), 300);
        await noChanges();
    });
});
