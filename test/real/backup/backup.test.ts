/**
 * Backups before migrations and restores, on real PostgreSQL 15 (the program's db container) with
 * the sample's real Prisma migrations. The deploys themselves (a backup before every migration as
 * `pulumi up` runs it, a migration that fails halfway and its recovery) run on the real engine, on
 * one stack (second describe). The backup tooling without a deploy runs the same commands the
 * program and a person run, on a db container made from the registered inputs:
 * `scripts/migrate.ts` as the Migration resource runs it, `npm run backup` and
 * `npm run restore-backup`. The proof cases: 1, 4, 3, 6, 5 (tooling), 1 and 2 (engine).
 */
import { strict as assert } from "node:assert";
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { BackupManifest, parseManifest } from "../../../lib/backup/manifest";
import { applyRetention, readManifests } from "../../../lib/backup/store";
import { takePlatformBackup } from "../../../lib/backup/take";
import { DB_NAME, DB_USER } from "../../../lib/env";
import { LABELS } from "../../../lib/docker/labels";
import { createFromInputs, waitHealthy } from "../support/containers";
import { psqlIn } from "../support/db";
import { EngineFailed, EngineStack, describeChanges, namesOf } from "../support/engineStack";
import { CommandInputs, RealStack, T, evaluateRealStack, removeProjectDir, runDbPasswordStep } from "../support/program";
import { Cleanup, Exec, REPO, dockerOk, exec, execLikeCommandResource, execOk, freePort, httpGet, runId, waitFor } from "../support/run";
import { BASE, CACHE_REPO, buildImage, requireBaseImages } from "../support/sample";

const TSX = ["--import", "tsx"];

/** Every table of a database: row count and a checksum over every row (order-independent). */
async function fingerprintOf(psql: (sql: string) => Promise<string>): Promise<Record<string, string>> {
    const tables = (await psql("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1;")).split("\n").filter(Boolean);
    const out: Record<string, string> = {};
    for (const t of tables) {
        out[t] = (await psql(`SELECT count(*) || ':' || md5(coalesce(string_agg(md5(x::text), '' ORDER BY md5(x::text)), '')) FROM public."${t.replace(/"/g, '""')}" x;`)).trim();
    }
    return out;
}

describe("real: the backup tooling (scripts/migrate.ts, npm run backup, npm run restore-backup) on the program's db container", function () {
    const cleanup = new Cleanup();
    const id = runId();
    let stack: RealStack;
    let db: string;
    let migrate: CommandInputs;
    let backupDir: string;
    /** Fingerprint of the data before the first migration: what every restore must give back. */
    let preMigration: Record<string, string>;
    let preMigrationBackup: BackupManifest;

    const psql = (sql: string, database = DB_NAME): Promise<string> => dockerOk(["exec", "-i", db, "psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-At", "-U", DB_USER, "-d", database], { input: sql });
    const secretFree = (r: Exec): void => {
        for (const s of [stack.postgresPassword, encodeURIComponent(stack.postgresPassword)]) assert.ok(!`${r.stdout}${r.stderr}`.includes(s), "a secret was printed");
    };

    const fingerprint = (database = DB_NAME): Promise<Record<string, string>> => fingerprintOf((sql) => psql(sql, database));

    const runMigrate = (env: Record<string, string> = {}): Promise<Exec> => execLikeCommandResource(migrate.create, { ...migrate.environment, ...env });
    const cli = (script: string, args: string[], input = ""): Promise<Exec> =>
        exec("node", [...TSX, path.join("scripts", script), ...args, "--stack", stack.stack, "--dir", backupDir], { cwd: REPO, input, timeoutMs: 600_000 });
    const manifests = (dir = backupDir): BackupManifest[] => readManifests(dir).sort((a, b) => a.takenAt.localeCompare(b.takenAt));

    before(async function () {
        await requireBaseImages();
        stack = await evaluateRealStack(id, await freePort());
        cleanup.add("project dir", () => Promise.resolve(removeProjectDir(stack)));
        backupDir = stack.backupDir;
        migrate = stack.command("migration");
        assert.equal(migrate.environment.CARTIE_BACKUP_DIR, backupDir, "the stack's cartie:backupDir reaches the Migration step");
        assert.equal(migrate.environment.CARTIE_PRE_MIGRATION_BACKUP, "true");

        // The program's api image under its migrator tag: the Prisma CLI and migrations that run.
        const reg = stack.image("api-image");
        const built = await buildImage(CACHE_REPO.api, path.resolve(REPO, reg.build.context), reg.build.args, false);
        const tag = stack.run.one(T.tag, "migration-image").inputs as { targetImage: string };
        await dockerOk(["tag", built.ref, tag.targetImage]);
        cleanup.imageTag(tag.targetImage);

        const network = (stack.run.one(T.network, "network").inputs as { name: string }).name;
        const volume = (stack.run.one(T.volume, "db-data").inputs as { name: string }).name;
        await dockerOk(["network", "create", network]);
        cleanup.network(network);
        await dockerOk(["volume", "create", volume]);
        cleanup.volume(volume);
        await runDbPasswordStep(stack, cleanup);
        const spec = stack.container("db");
        db = spec.name;
        cleanup.container(db);
        await createFromInputs(spec, { image: stack.remoteImageName("db") });
        await waitHealthy(db, 120_000);

        // The incident's database: the baseline schema without history, full of awkward values.
        await psql(fs.readFileSync(path.join(REPO, "examples/cartie/apps/api/prisma/migrations/v41_baseline/migration.sql"), "utf8"));
        await psql(`
INSERT INTO users (id, email, "passwordHash", role)
SELECT 'u' || g, 'user' || g || E'@x\\t.y''"', E'h\\\\ash\\n\\r' || repeat('é😀ß', g % 7) || E'\\\\.', CASE WHEN g % 3 = 0 THEN E'ad\\tmin' ELSE 'user' END
  FROM generate_series(1, 2500) g;
CREATE TABLE "Odd ""Notes""" (id serial PRIMARY KEY, body text, extra jsonb, blob bytea, at timestamptz);
INSERT INTO "Odd ""Notes""" (body, extra, blob, at)
SELECT CASE WHEN g % 5 = 0 THEN NULL ELSE E'line1\\nline2\\ttab \\\\. back\\\\slash ' || repeat(md5(g::text), g % 40) END,
       CASE WHEN g % 4 = 0 THEN NULL ELSE jsonb_build_object('q', E'"quoted"\\n', 'u', 'ünïcödé ✓') END,
       CASE WHEN g % 6 = 0 THEN NULL ELSE decode(md5(g::text), 'hex') END,
       CASE WHEN g % 7 = 0 THEN NULL ELSE '2026-11-25 19:40:02+00'::timestamptz + g * interval '1 minute' END
  FROM generate_series(1, 1500) g;
INSERT INTO "Odd ""Notes""" (body) VALUES (repeat('large text ', 100000)), (E'\\\\.'), ('');
`);
        preMigration = await fingerprint();
        assert.deepEqual(Object.keys(preMigration).sort(), ["Odd \"Notes\"", "users"]);
        assert.match(preMigration.users, /^2500:/);
        assert.match(preMigration['Odd "Notes"'], /^1503:/);
    });

    after(async () => {
        await cleanup.run();
    });

    it("1. with migrations pending, the backup is taken and verified first, then the migrations apply", async () => {
        const r = await runMigrate();
        assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
        secretFree(r);
        const out = r.stdout;
        const backupAt = out.indexOf("backup: wrote ");
        const firstPrisma = out.indexOf("$ prisma ");
        assert.ok(backupAt > 0 && firstPrisma > backupAt, `the backup is not before the first Prisma command:\n${out}`);
        assert.match(out, /rows per table \(equal to the live counts in the same snapshot\): public\.Odd "Notes"=1503, public\.users=2500/);
        assert.match(out, /\$ prisma migrate resolve --applied v41_baseline[\s\S]*\$ prisma migrate deploy[\s\S]*done: database is current/);

        const found = manifests();
        assert.equal(found.length, 1);
        preMigrationBackup = found[0];
        assert.equal(preMigrationBackup.reason, "pre-migration");
        assert.equal(preMigrationBackup.verifiedAgainstLive, true);
        assert.match(preMigrationBackup.file, new RegExp(`^\\d{8}T\\d{6}Z-pre-migration-${stack.prefix}\\.sql$`));
        assert.deepEqual(preMigrationBackup.rowCounts, { 'public.Odd "Notes"': 1503, "public.users": 2500 });
        const file = path.join(backupDir, preMigrationBackup.file);
        assert.equal(fs.statSync(file).size, preMigrationBackup.bytes);
        for (const f of [file, file.replace(/\.sql$/, ".json")]) assert.equal(fs.statSync(f).mode & 0o777, 0o600, `${f} is readable by others`);
        const manifestText = fs.readFileSync(file.replace(/\.sql$/, ".json"), "utf8");
        assert.ok(!manifestText.includes(stack.postgresPassword) && !manifestText.includes(encodeURIComponent(stack.postgresPassword)), "the manifest holds the password");
        assert.equal((await execOk("sha256sum", [file])).split(" ")[0], preMigrationBackup.sha256);
        assert.equal(await psql("SELECT count(*) FROM _prisma_migrations WHERE finished_at IS NOT NULL;"), "2\n");
    });

    it("4. with nothing pending, no backup is taken and no Prisma command runs", async () => {
        const history = await psql("SELECT migration_name, finished_at FROM _prisma_migrations ORDER BY 1;");
        const r = await runMigrate();
        assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
        assert.match(r.stdout, /nothing to do[\s\S]*done: nothing to apply/);
        assert.ok(!r.stdout.includes("$ prisma"), r.stdout);
        assert.ok(!r.stdout.includes("backup:"), r.stdout);
        assert.equal(manifests().length, 1, "a backup was taken with nothing to apply");
        assert.equal(await psql("SELECT migration_name, finished_at FROM _prisma_migrations ORDER BY 1;"), history);
    });

    it("1. restoring that backup gives back exactly the pre-migration data (every table, every row)", async () => {
        await psql(`DELETE FROM users WHERE id LIKE 'u1%'; UPDATE "Odd ""Notes""" SET body = 'changed after the backup';`);
        assert.notDeepEqual(await fingerprint(), preMigration);
        const r = await cli("restore-backup.ts", [path.join(backupDir, preMigrationBackup.file), "--yes"]);
        assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
        assert.match(r.stdout, /rows equal to the manifest in all 2 table\(s\)[\s\S]*switched/);
        assert.deepEqual(await fingerprint(), preMigration, "the restored data differs from the data before the migration");
        const kept = /kept as (\S+);/.exec(r.stdout)?.[1] ?? "";
        assert.match(kept, /^cartie_before_restore_/);
        assert.match((await fingerprint(kept)).users, /^\d+:/, "the database before the restore is kept");
        assert.equal(await psql("SELECT count(*) FROM pg_database WHERE datname LIKE 'cartie\\_restore\\_%';"), "0\n");
    });

    it("3. a backup that cannot be written: the migration does not run and the message names the cause", async () => {
        // After the restore the migrations are pending again.
        for (const [options, cause] of [
            ["size=64k", /backup folder \S+ is full \(no space left on device\): free space there or set `cartie:backupDir`/],
            ["ro,size=1m", /backup folder \S+ is on a read-only file system/],
        ] as const) {
            const dir = fs.mkdtempSync(path.join(os.tmpdir(), `cartie-real-tiny-${id}-`));
            await execOk("mount", ["-t", "tmpfs", "-o", options, "tmpfs", dir]);
            cleanup.add(`tmpfs ${dir}`, async () => {
                await exec("umount", [dir]);
                fs.rmSync(dir, { recursive: true, force: true });
            });
            const r = await runMigrate({ CARTIE_BACKUP_DIR: dir });
            assert.equal(r.code, 1, `${r.stdout}\n${r.stderr}`);
            assert.match(r.stderr, cause);
            assert.match(r.stderr, /migration not run[\s\S]*nothing was changed: no Prisma command ran/);
            assert.ok(!`${r.stdout}${r.stderr}`.includes("$ prisma"), "a Prisma command ran");
            assert.deepEqual(fs.readdirSync(dir), [], "a partial backup was left behind");
            assert.deepEqual(await fingerprint(), preMigration, "the database changed");
            await exec("umount", [dir]);
        }
    });

    it("6. restore-backup killed midway leaves the current database untouched; a second run finishes", async () => {
        // A dump big enough to be caught loading, and api containers (by label, two of them as during a deploy).
        await psql("CREATE TABLE bulk AS SELECT g AS id, repeat(md5(g::text), 8) AS body FROM generate_series(1, 200000) g;");
        const backup = await cli("backup.ts", []);
        assert.equal(backup.code, 0, `${backup.stdout}\n${backup.stderr}`);
        assert.match(backup.stdout, /backup: \S+-manual-\S+\.sql: [\d.]+ MiB, 204003 rows in 3 table\(s\)/);
        const manual = manifests().find((m) => m.reason === "manual");
        assert.ok(manual);
        const withBulk = await fingerprint();
        await psql("DELETE FROM bulk WHERE id % 2 = 0; DELETE FROM users WHERE id LIKE 'u2%';");
        const current = await fingerprint();

        const labels = [LABELS.project, "cartie-platform", LABELS.stack, stack.stack, LABELS.component, "api"];
        const apis = [`${stack.prefix}-api-${runId()}a`, `${stack.prefix}-api-${runId()}b`];
        for (const name of apis) {
            cleanup.container(name);
            await dockerOk(["run", "-d", "--name", name, "--stop-signal", "SIGKILL", ...[0, 2, 4].flatMap((i) => ["--label", `${labels[i]}=${labels[i + 1]}`]), BASE.busybox, "sleep", "3600"]);
        }

        const child = spawn("node", [...TSX, "scripts/restore-backup.ts", path.join(backupDir, manual.file), "--yes", "--stack", stack.stack, "--dir", backupDir], { cwd: REPO, stdio: ["ignore", "pipe", "pipe"] });
        let output = "";
        child.stdout.on("data", (d: Buffer) => (output += d.toString()));
        const exited = new Promise<void>((resolve) => child.on("close", () => resolve()));
        await waitFor("the restore to be loading into its fresh database", async () => (/loading/.test(output) && (await psql("SELECT count(*) FROM pg_database WHERE datname LIKE 'cartie\\_restore\\_%';")) === "1\n" ? true : undefined), 120_000, 100);
        child.kill("SIGKILL");
        await exited;
        assert.doesNotMatch(output, /switched/, "the restore finished before it could be killed; make the dump bigger");
        assert.deepEqual(await fingerprint(), current, "the killed restore changed the current database");
        for (const name of apis) assert.equal((await dockerOk(["inspect", "-f", "{{.State.Running}}", name])).trim(), "false", `${name} runs during the restore`);

        const again = await cli("restore-backup.ts", [path.join(backupDir, manual.file), "--yes"]);
        assert.equal(again.code, 0, `${again.stdout}\n${again.stderr}`);
        assert.match(again.stdout, /dropping cartie_restore_\S+, left by an interrupted restore/);
        assert.match(again.stdout, /an interrupted restore left .* stopped; they start again at the end/);
        assert.deepEqual(await fingerprint(), withBulk);
        for (const name of apis) assert.equal((await dockerOk(["inspect", "-f", "{{.State.Running}}", name])).trim(), "true", `${name} was not started again`);
        assert.equal(await psql("SELECT count(*) FROM pg_database WHERE datname LIKE 'cartie\\_restore\\_%';"), "0\n");
    });

    it("5. retention keeps the newest pre-migration backups, the newest complete one and the takeover backup", async () => {
        // A takeover backup from an earlier adoption of a legacy host, in the same folder.
        const takeover = path.join(backupDir, "20261101T000000Z-takeover-infra2.sql");
        fs.writeFileSync(takeover, "-- PostgreSQL database dump\n-- PostgreSQL database dump complete\n", { mode: 0o600 });
        const takeoverManifest = parseManifest({ project: "infra2", reason: "takeover", file: path.basename(takeover), bytes: fs.statSync(takeover).size, sha256: "", takenAt: "2026-11-01T00:00:00.000Z", rowCounts: {} });
        fs.writeFileSync(takeover.replace(/\.sql$/, ".json"), JSON.stringify(takeoverManifest), { mode: 0o600 });

        const keep = 2;
        const taken: string[] = [];
        for (let i = 0; i < 4; i++) {
            const m = await takePlatformBackup({ db: { container: db, user: DB_USER, database: DB_NAME }, dir: backupDir, project: stack.prefix, reason: "pre-migration", now: () => new Date(Date.UTC(2027, 0, 1, i)) });
            taken.push(m.file);
            applyRetention(backupDir, keep);
        }
        const left = manifests();
        const pre = left.filter((m) => m.reason === "pre-migration").map((m) => m.file);
        assert.deepEqual(pre, taken.slice(-keep), "not the newest pre-migration backups were kept");
        assert.ok(left.some((m) => m.reason === "takeover"), "the takeover backup was removed");
        assert.ok(left.some((m) => m.reason === "manual"), "a manual backup was removed");
        assert.ok(!fs.existsSync(path.join(backupDir, preMigrationBackup.file)), "the oldest pre-migration backup is still there");
        for (const f of fs.readdirSync(backupDir).filter((x) => x.endsWith(".sql"))) assert.ok(fs.existsSync(path.join(backupDir, f.replace(/\.sql$/, ".json"))), `${f} lost its manifest`);
    });
});

describe("real engine: `pulumi up` takes a verified backup before every migration; one that fails halfway is put back with `npm run restore-backup`", function () {
    const cleanup = new Cleanup();
    let s: EngineStack;
    let db: string;
    const MIGRATIONS = "apps/api/prisma/migrations";
    /** The users' rows in the columns they had before the release added one. */
    const USER_ROWS = `SELECT count(*) || ':' || md5(string_agg(md5((id, email, "passwordHash", role, "createdAt")::text), '' ORDER BY id)) FROM users;`;
    const psql = (sql: string): Promise<string> => psqlIn(db, sql);
    const fingerprint = (): Promise<Record<string, string>> => fingerprintOf(psql);
    const preMigration = (): BackupManifest[] => readManifests(s.backupDir).filter((m) => m.reason === "pre-migration").sort((a, b) => a.takenAt.localeCompare(b.takenAt));
    const noSecrets = (text: string): void => {
        for (const x of Object.values(s.secrets)) assert.ok(!text.includes(x) && !text.includes(encodeURIComponent(x)), "a secret was printed");
    };
    /** A new migration in the stack's copy of the sample, as a person adds one to the api (`prisma/migrations/<name>/migration.sql`). */
    const writeMigration = (name: string, sql: string): void => {
        fs.mkdirSync(path.join(s.projectDir, "examples/cartie", MIGRATIONS, name), { recursive: true });
        s.writeAppFile(`${MIGRATIONS}/${name}/migration.sql`, sql);
    };
    /** schema.prisma changed with the migration, as Prisma asks (the program refuses a model no migration creates). */
    const editSchema = (from: string, to: string): void => {
        const file = "apps/api/prisma/schema.prisma";
        const text = s.readAppFile(file);
        assert.ok(text.includes(from), `schema.prisma has no ${from}`);
        s.writeAppFile(file, text.replace(from, to));
    };
    /** The rows per table a fingerprint counted, named as a manifest names them. */
    const countsOf = (f: Record<string, string>): Record<string, number> => Object.fromEntries(Object.entries(f).map(([t, v]) => [`public.${t}`, Number(v.split(":")[0])]));
    const healthy = async (): Promise<void> => {
        for (const p of ["/", "/api/health"]) assert.equal((await httpGet(`${s.baseUrl}${p}`))?.status, 200, p);
    };

    before(async () => {
        s = await EngineStack.create(cleanup);
        await s.up();
        db = await s.containerName("db");
        // Live data with awkward values (quotes, tabs, backslashes, COPY's `\.`, non-ASCII), and sessions referencing them.
        await psql(`
INSERT INTO users (id, email, "passwordHash", role)
SELECT 'u' || g, 'user' || g || E'@x\\t.y''"', E'h\\\\ash\\n\\r' || repeat('é😀ß', g % 7) || E'\\\\.', CASE WHEN g % 3 = 0 THEN E'ad\\tmin' ELSE 'user' END
  FROM generate_series(1, 1500) g;
INSERT INTO sessions (id, "userId", "tokenHash", "expiresAt")
SELECT 's' || g, 'u' || (g % 1500 + 1), md5(g::text), '2026-12-24 00:00:00'::timestamp + g * interval '1 minute' FROM generate_series(1, 400) g;
`);
    });
    after(() => cleanup.run());

    it("1. a release with a new migration: `pulumi up` takes a verified backup of the live data first (every row of every table), then applies it", async () => {
        const t = Date.now();
        const before = await fingerprint();
        const usersBefore = await psql(USER_ROWS);
        const earlier = preMigration().map((m) => m.file);
        writeMigration("v43_add_nickname", `ALTER TABLE "users" ADD COLUMN "nickname" TEXT;\n`);
        editSchema(`  role         String    @default("user")\n`, `  role         String    @default("user")\n  nickname     String?\n`);
        const up = await s.up();
        assert.ok(namesOf(up, "replace").includes("migration"), describeChanges(up));

        const taken = preMigration().filter((m) => !earlier.includes(m.file));
        assert.equal(taken.length, 1, `pre-migration backups taken by this up: ${taken.map((m) => m.file).join(", ")}`);
        const m = taken[0];
        assert.match(m.file, new RegExp(`^\\d{8}T\\d{6}Z-pre-migration-${s.prefix}\\.sql$`));
        assert.match(m.note ?? "", /v43_add_nickname/);
        assert.equal(m.verifiedAgainstLive, true);
        assert.deepEqual(m.rowCounts, countsOf(before), "the backup does not hold every row the database had");
        const file = path.join(s.backupDir, m.file);
        assert.equal((await execOk("sha256sum", [file])).split(" ")[0], m.sha256);
        noSecrets(fs.readFileSync(file.replace(/\.sql$/, ".json"), "utf8"));
        // Before: the dump was complete before Prisma started the migration.
        const started = Number(await psql(`SELECT round(extract(epoch FROM started_at) * 1000) FROM _prisma_migrations WHERE migration_name = 'v43_add_nickname' AND finished_at IS NOT NULL;`));
        assert.ok(started > 0, "v43_add_nickname was not applied");
        assert.ok(Date.parse(m.takenAt) <= started, `the backup (${m.takenAt}) finished after the migration started (${new Date(started).toISOString()})`);
        assert.equal(await psql(USER_ROWS), usersBefore, "rows of users changed or were lost");
        await healthy();
        console.log(`      up with a new migration, backup first: ${up.ms} ms (case ${Date.now() - t} ms)`);
    });

    it("2. a migration that fails halfway: the up fails naming it and the recovery, the backup from just before restores the exact data, the fixed release converges healthy", async () => {
        const t = Date.now();
        const before = await fingerprint();
        const apiBefore = await s.hostContainers("api");
        const earlier = preMigration().map((m) => m.file);
        // Two migrations in one release: the first applies and changes every row, the second fails.
        const broken = "v45_nickname_index_breaks";
        writeMigration("v44_backfill_nickname", `UPDATE "users" SET "nickname" = 'half';\n`);
        writeMigration(broken, `CREATE INDEX "users_nickname_idx" ON "users"("nickname");\nSELECT 1 / 0;\n`);
        editSchema(`  @@map("users")`, `  @@index([nickname])\n  @@map("users")`);
        const err = await s.up().then(
            () => undefined,
            (e: unknown) => e,
        );
        assert.ok(err instanceof EngineFailed, "the up with a failing migration passed");
        assert.ok(err.run.failures.some((f) => f.name === "migration"), `it failed elsewhere than in the Migration step:\n${err.text.slice(0, 3000)}`);
        assert.match(err.text, new RegExp(`prisma migrate deploy failed \\(exit \\d+\\) in migration ${broken}`));
        assert.match(err.text, new RegExp(`recovery: .*npx prisma migrate resolve --rolled-back ${broken}`));
        noSecrets(err.text);
        assert.deepEqual(await s.hostContainers("api"), apiBefore, "the api was replaced after a failed migration");
        // Halfway: v44 changed the data, v45 is recorded as failed.
        assert.equal(await psql(`SELECT count(*) FROM users WHERE nickname IS DISTINCT FROM 'half';`), "0");
        assert.equal(await psql(`SELECT string_agg(migration_name || '|' || (finished_at IS NOT NULL), ',' ORDER BY migration_name) FROM _prisma_migrations WHERE migration_name >= 'v44';`), `v44_backfill_nickname|true,${broken}|false`);

        // The backup taken just before, as `npm run backups` finds it: the newest pre-migration one, naming both migrations.
        const taken = preMigration().filter((m) => !earlier.includes(m.file));
        assert.equal(taken.length, 1);
        assert.match(taken[0].note ?? "", new RegExp(`v44_backfill_nickname.*${broken}`));
        assert.deepEqual(taken[0].rowCounts, countsOf(before));
        const r = await exec("npm", ["run", "--silent", "restore-backup", "--", path.join(s.backupDir, taken[0].file), "--yes", "--stack", s.stack, "--dir", s.backupDir], { cwd: REPO, timeoutMs: 600_000 });
        assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
        noSecrets(`${r.stdout}${r.stderr}`);
        assert.match(r.stdout, /switched/);
        assert.deepEqual(await fingerprint(), before, "the restore did not give back the data from just before the failed migration");
        // The restore started the api it had stopped: the release from before serves on the restored data.
        await waitFor("the api to serve again after the restore", async () => ((await httpGet(`${s.baseUrl}/api/health`))?.status === 200 ? true : undefined), 120_000, 1000);

        // Fixed (the failing statement removed), the next up migrates the restored data (a backup first) and converges.
        writeMigration(broken, `CREATE INDEX "users_nickname_idx" ON "users"("nickname");\n`);
        const up = await s.up();
        assert.ok(namesOf(up, "replace").includes("migration"), describeChanges(up));
        assert.equal(preMigration().filter((m) => !earlier.includes(m.file)).length, 2, "no backup was taken before the fixed migration");
        assert.equal(await psql(`SELECT string_agg(migration_name, ',' ORDER BY migration_name) FROM _prisma_migrations WHERE finished_at IS NOT NULL AND rolled_back_at IS NULL AND migration_name >= 'v44';`), `v44_backfill_nickname,${broken}`);
        assert.equal(await psql(`SELECT count(*) FROM users WHERE nickname IS DISTINCT FROM 'half';`), "0", "the backfill did not run on the restored data");
        await healthy();
        await s.preview({ expectNoChanges: true });
        console.log(`      failing migration, restore, fixed release: ${Date.now() - t} ms`);
    });
});
