/**
 * The platform's own path, end to end on real Docker, from the inputs the program registers:
 * network → db (`local/postgres:15`, the program's pg_isready healthcheck, its volume) →
 * `scripts/migrate.ts` run exactly as the Migration resource runs it (its command line and
 * environment; migrator image = the api image under the migrator tag) → api (env from
 * `apiEnvironment`) → web → Caddy proxy with the program's Caddyfile, published on 127.0.0.1
 * only → `scripts/verify.ts` as the Verification resource runs it. Also the incident's database
 * through `scripts/migrate.ts`: `users` with rows and no history → baseline resolved, rows kept.
 */
import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as path from "node:path";
import { MIGRATE_COMMAND } from "../../../components/migration";
import { RELEASE_COMMAND } from "../../../components/release";
import { VERIFY_COMMAND } from "../../../components/verification";
import { apiHealthcheckCommand } from "../../../components/api";
import { DB_NAME, DB_USER, HEALTH_PATH } from "../../../lib/env";
import { createFromInputs, inspect, waitHealthy } from "../support/containers";
import { RealStack, T, evaluateRealStack, removeProjectDir, runDbPasswordStep } from "../support/program";
import { Cleanup, Exec, REPO, docker, dockerOk, execLikeCommandResource, freePort, httpGet, runId } from "../support/run";
import { CACHE_REPO, MIGRATIONS_DIR, buildImage, requireBaseImages, sampleMigrations } from "../support/sample";

describe("real: the platform end to end on Docker, from the program's registered inputs", function () {
    const cleanup = new Cleanup();
    const id = runId();
    let stack: RealStack;
    let network: string;
    let apiImage: string;
    let webImage: string;
    const local = sampleMigrations();
    const secretsOf = (s: RealStack): string[] => [s.postgresPassword, encodeURIComponent(s.postgresPassword)];

    const psql = async (container: string, sql: string): Promise<string> => dockerOk(["exec", "-i", container, "psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-At", "-U", DB_USER, "-d", DB_NAME], { input: sql });
    const noSecrets = (r: Exec): void => {
        for (const s of secretsOf(stack)) assert.ok(!`${r.stdout}${r.stderr}`.includes(s), "a secret was printed");
    };

    before(async function () {
        await requireBaseImages();
        stack = await evaluateRealStack(id, await freePort());
        cleanup.add("project dir", () => Promise.resolve(removeProjectDir(stack)));

        // The program's images: built (or reused by content tag) under the cache name, tagged as the program names them.
        const images: Record<"api" | "web", string> = { api: "", web: "" };
        for (const app of ["api", "web"] as const) {
            const reg = stack.image(`${app}-image`);
            const built = await buildImage(CACHE_REPO[app], path.resolve(REPO, reg.build.context), reg.build.args, false);
            assert.ok(reg.imageName.endsWith(`:${built.tag}`), `program tag ${reg.imageName} is not the content tag ${built.tag}`);
            await dockerOk(["tag", built.ref, reg.imageName]);
            cleanup.imageTag(reg.imageName);
            images[app] = reg.imageName;
        }
        apiImage = images.api;
        webImage = images.web;

        network = (stack.run.one(T.network, "network").inputs as { name: string }).name;
        const volume = (stack.run.one(T.volume, "db-data").inputs as { name: string }).name;
        assert.ok(network.startsWith(stack.prefix) && volume.startsWith(stack.prefix));
        await dockerOk(["network", "create", network]);
        cleanup.network(network);
        await dockerOk(["volume", "create", volume]);
        cleanup.volume(volume);
        await runDbPasswordStep(stack, cleanup);
    });

    after(async () => {
        await cleanup.run();
    });

    it("db: the program's container (local/postgres:15, its volume) becomes healthy by the program's pg_isready healthcheck", async () => {
        const spec = stack.container("db");
        assert.deepEqual(spec.healthcheck?.tests, ["CMD", "pg_isready", "-U", DB_USER, "-d", DB_NAME]);
        cleanup.container(spec.name);
        await createFromInputs(spec, { image: stack.remoteImageName("db") });
        await waitHealthy(spec.name, 120_000);
        assert.equal(await psql(spec.name, "SELECT current_user;"), `${DB_USER}\n`);
    });

    it("scripts/migrate.ts, run as the Migration resource runs it, applies every migration; a second run changes nothing", async () => {
        const cmd = stack.command("migration");
        assert.equal(cmd.create, MIGRATE_COMMAND);
        // The docker.Tag the Migration component declares: the migrator tag points at the api image.
        const tag = stack.run.one(T.tag, "migration-image").inputs as { sourceImage: string; targetImage: string };
        assert.equal(tag.sourceImage, apiImage);
        assert.equal(cmd.environment.CARTIE_MIGRATOR_IMAGE, tag.targetImage);
        await dockerOk(["tag", tag.sourceImage, tag.targetImage]);
        cleanup.imageTag(tag.targetImage);
        assert.equal(path.resolve(REPO, cmd.environment.CARTIE_MIGRATIONS_DIR), MIGRATIONS_DIR);

        const r = await execLikeCommandResource(cmd.create, cmd.environment);
        assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
        assert.match(r.stdout, new RegExp(`plan: apply ${local.length} pending migration\\(s\\): ${local.join(", ")}`));
        assert.match(r.stdout, /done: database is current/);
        noSecrets(r);
        const db = stack.container("db").name;
        assert.equal(await psql(db, "SELECT migration_name FROM _prisma_migrations WHERE finished_at IS NOT NULL AND rolled_back_at IS NULL ORDER BY 1;"), local.map((m) => `${m}\n`).join(""));

        const again = await execLikeCommandResource(cmd.create, cmd.environment);
        assert.equal(again.code, 0, `${again.stdout}\n${again.stderr}`);
        assert.match(again.stdout, /database is current \(\d+ migrations applied\); nothing to do/);
        assert.match(again.stdout, /done: nothing to apply/);
    });

    it("api, web and proxy from the program's inputs; scripts/release.ts, run as the Release resource runs it, gates and routes them; the proxy is published on 127.0.0.1 only; scripts/verify.ts → / and /api/health 200", async () => {
        const apiSpec = stack.container("api");
        assert.deepEqual(apiSpec.healthcheck?.tests, apiHealthcheckCommand());
        const webSpec = stack.container("web");
        const proxySpec = stack.container("proxy");
        for (const s of [apiSpec, webSpec, proxySpec]) cleanup.container(s.name);
        // api and web: `wait: false` (the release gates them); the proxy: `wait: true`, as the provider waits.
        await createFromInputs(apiSpec, { image: apiImage });
        await createFromInputs(webSpec, { image: webImage });
        await createFromInputs(proxySpec, { image: stack.remoteImageName("proxy") });
        await waitHealthy(proxySpec.name, 60_000);
        const bootstrap = await httpGet(`http://127.0.0.1:${stack.publicPort}/`);
        assert.equal(bootstrap?.status, 503, "a proxy no release has routed must say so, not route to whatever answers");
        assert.match(bootstrap.body, /no release is routed yet/);

        const ports = (await inspect(proxySpec.name)).NetworkSettings.Ports;
        assert.deepEqual(ports["80/tcp"], [{ HostIp: "127.0.0.1", HostPort: String(stack.publicPort) }]);
        assert.equal((await docker(["exec", proxySpec.name, "cat", "/etc/caddy/Caddyfile"])).stdout, stack.caddyfile());

        const release = stack.command("release");
        assert.equal(release.create, RELEASE_COMMAND);
        const rel = await execLikeCommandResource(release.create, release.environment);
        assert.equal(rel.code, 0, `${rel.stdout}\n${rel.stderr}`);
        const summary = JSON.parse(rel.stdout.trim().split("\n").pop() ?? "{}") as { switched: string[]; live: { api: string; web: string } };
        assert.deepEqual(summary.switched, ["api", "web"]);
        assert.deepEqual(summary.live, { api: `${apiSpec.name}:3000`, web: `${webSpec.name}:8080` });
        // The live routes are on the proxy's disk: a restarted proxy comes back on them.
        assert.equal((await docker(["exec", proxySpec.name, "cat", "/etc/caddy/Caddyfile"])).stdout, stack.releaseCaddyfile());

        const verify = stack.command("verification");
        assert.equal(verify.create, VERIFY_COMMAND);
        assert.equal(verify.environment.CARTIE_VERIFY_URLS, `http://127.0.0.1:${stack.publicPort}/ http://127.0.0.1:${stack.publicPort}${HEALTH_PATH}`);
        const r = await execLikeCommandResource(verify.create, verify.environment);
        assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
        const out = JSON.parse(r.stdout) as { healthy: boolean; results: Array<{ url: string; status: number }> };
        assert.equal(out.healthy, true);
        assert.deepEqual(out.results.map((x) => x.status), [200, 200]);

        await dockerOk(["restart", proxySpec.name]);
        await waitHealthy(proxySpec.name, 60_000);
        const again = await execLikeCommandResource(verify.create, verify.environment);
        assert.equal(again.code, 0, `after a proxy restart: ${again.stdout}\n${again.stderr}`);

        const logs = await docker(["logs", apiSpec.name]);
        assert.match(logs.stdout, /superadmin created/);
        noSecrets(logs);
        noSecrets(rel);
    });

    it("the api seeds its superadmin once (a restart changes nothing) and its health says 503 with the reason when migrations are pending or the db is down", async () => {
        const apiSpec = stack.container("api");
        const db = stack.container("db").name;
        const email = (apiSpec.envs ?? []).find((e) => e.startsWith("SEED_SUPERADMIN_EMAIL="))?.split("=")[1] ?? "";
        assert.ok(email.includes("@"));
        const seeded = `SELECT count(*) || ' ' || max("passwordHash") FROM users WHERE email = '${email}';`;
        const first = await psql(db, seeded);
        assert.match(first, /^1 \S+/);
        await dockerOk(["restart", apiSpec.name]);
        await waitHealthy(apiSpec.name);
        assert.equal(await psql(db, seeded), first, "a second start rewrote or duplicated the superadmin");

        const health = async (): Promise<{ status: number; body: { status?: string; reason?: string } }> => {
            const res = await fetch(`http://127.0.0.1:${stack.publicPort}${HEALTH_PATH}`);
            return { status: res.status, body: (await res.json()) as { status?: string; reason?: string } };
        };
        const last = local[local.length - 1];
        await psql(db, `UPDATE _prisma_migrations SET rolled_back_at = now() WHERE migration_name = '${last}';`);
        const pending = await health();
        assert.equal(pending.status, 503);
        assert.equal(pending.body.reason, `pending migrations: ${last}`);
        await psql(db, `UPDATE _prisma_migrations SET rolled_back_at = NULL WHERE migration_name = '${last}';`);
        assert.equal((await health()).status, 200);

        await dockerOk(["stop", db]);
        try {
            const down = await health();
            assert.equal(down.status, 503);
            assert.match(down.body.reason ?? "", /^database unreachable/);
        } finally {
            await dockerOk(["start", db]);
            await waitHealthy(db, 120_000);
        }
        let back = 0;
        for (let i = 0; i < 30 && back !== 200; i++) {
            back = (await health()).status;
            if (back !== 200) await new Promise((r) => setTimeout(r, 1000));
        }
        assert.equal(back, 200, "the api did not recover once the db was back");
    });

    it("the incident's database through scripts/migrate.ts: `users` with rows and no history → baseline resolved, later migrations applied, rows kept", async () => {
        const cmd = stack.command("migration");
        const dbSpec = stack.container("db");
        const net = `${stack.prefix}-incident-net`;
        const vol = `${stack.prefix}-incident-data`;
        const name = `${stack.prefix}-incident-db`;
        await dockerOk(["network", "create", net]);
        cleanup.network(net);
        await dockerOk(["volume", "create", vol]);
        cleanup.volume(vol);
        cleanup.container(name);
        await createFromInputs(dbSpec, { image: stack.remoteImageName("db"), name, network: net, volume: vol });
        await waitHealthy(name, 120_000);
        await psql(name, fs.readFileSync(path.join(MIGRATIONS_DIR, "v41_baseline/migration.sql"), "utf8"));
        await psql(name, `INSERT INTO users (id, email, "passwordHash", role) VALUES ('legacy-1', 'one@cartie.test', 'h1', 'user'), ('legacy-2', 'two@cartie.test', 'h2', 'admin');`);
        const rows = `SELECT id, email, "passwordHash", role FROM users ORDER BY id;`;
        const before = await psql(name, rows);

        const r = await execLikeCommandResource(cmd.create, { ...cmd.environment, CARTIE_NETWORK: net, CARTIE_DB_CONTAINER: name });
        assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
        assert.match(r.stdout, /database: 1 app table\(s\), no migration history/);
        assert.match(r.stdout, /plan: mark v41_baseline as applied: tables exist \(users\) but there is no migration history \(Prisma would refuse with P3005\); then apply 1 pending migration\(s\): v42_add_sessions/);
        assert.match(r.stdout, /\$ prisma migrate resolve --applied v41_baseline/);
        assert.match(r.stdout, /done: database is current/);
        noSecrets(r);
        assert.equal(await psql(name, rows), before, "rows changed or were lost");
        assert.equal(await psql(name, "SELECT migration_name FROM _prisma_migrations WHERE finished_at IS NOT NULL AND rolled_back_at IS NULL ORDER BY 1;"), local.map((m) => `${m}\n`).join(""));
    });
});
