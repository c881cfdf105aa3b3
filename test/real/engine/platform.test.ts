/**
 * The platform's own contract on one real stack after `pulumi up` on the real engine, for what the
 * other engine tests do not prove already (restore.test.ts: from nothing, / and /api/health 200, a
 * second up changes nothing; lifecycle, incident, dbHealth): the db healthy by its own healthcheck
 * and not published, the proxy published on 127.0.0.1 only and back on its routes after a restart,
 * the superadmin seeded once, the api's health when migrations are pending or the db is down, and
 * the incident's database (the app's tables with rows, no migration history) through the Migration
 * step: the baseline marked applied, the later migrations applied, every row kept.
 */
import { strict as assert } from "node:assert";
import * as os from "node:os";
import { DB_NAME, DB_USER, HEALTH_PATH } from "../../../lib/env";
import { readManifests } from "../../../lib/backup/store";
import { inspect, waitHealthy } from "../support/containers";
import { psqlIn, writeUsers } from "../support/db";
import { EngineStack, describeChanges, namesOf } from "../support/engineStack";
import { Cleanup, docker, dockerOk, httpGet, waitFor } from "../support/run";

describe("real engine: the platform after `pulumi up` (db health, the proxy on 127.0.0.1 only, the superadmin seeded once, health with the db down, the incident's database through the Migration step)", function () {
    const cleanup = new Cleanup();
    let s: EngineStack;
    let db: string;
    const psql = (sql: string): Promise<string> => psqlIn(db, sql);
    const health = async (): Promise<{ status: number; reason?: string }> => {
        const res = await fetch(`${s.baseUrl}${HEALTH_PATH}`, { signal: AbortSignal.timeout(5000) });
        return { status: res.status, reason: ((await res.json()) as { reason?: string }).reason };
    };
    const healthy = async (): Promise<void> => {
        for (const p of ["/", HEALTH_PATH]) assert.equal((await httpGet(`${s.baseUrl}${p}`))?.status, 200, p);
    };
    const apiLogs = async (name: string): Promise<string> => {
        const r = await docker(["logs", name]);
        return r.stdout + r.stderr;
    };
    const timed = (name: string, started: number): void => console.log(`      ${name}: ${Date.now() - started} ms`);

    before(async () => {
        s = await EngineStack.create(cleanup);
        await s.up();
        db = await s.containerName("db");
    });
    after(() => cleanup.run());

    it("the db became healthy by its own pg_isready healthcheck and publishes no port; the proxy is published on 127.0.0.1 only and comes back on its routes after a restart", async () => {
        const t = Date.now();
        const d = await inspect(db);
        assert.deepEqual(d.Config.Healthcheck?.Test, ["CMD", "pg_isready", "-U", DB_USER, "-d", DB_NAME]);
        assert.equal(d.State.Health?.Status, "healthy");
        assert.ok((d.State.Health?.Log ?? []).some((l) => l.ExitCode === 0 && /accepting connections/.test(l.Output)), "no probe of the healthcheck passed");
        const dbBound = Object.values(d.NetworkSettings.Ports ?? {}).filter((b) => b && b.length > 0);
        assert.deepEqual(dbBound, [], "the db publishes a port on the host");

        const proxy = await s.containerName("proxy");
        const bound = Object.fromEntries(Object.entries((await inspect(proxy)).NetworkSettings.Ports ?? {}).filter(([, b]) => b && b.length > 0));
        assert.deepEqual(bound, { "80/tcp": [{ HostIp: "127.0.0.1", HostPort: String(s.port) }] });
        await healthy();
        // Behaviour, not only the binding: the same port on the host's other addresses answers nothing.
        const others = Object.values(os.networkInterfaces())
            .flat()
            .filter((a) => a && a.family === "IPv4" && !a.internal)
            .map((a) => a?.address ?? "");
        assert.ok(others.length > 0, "the host has no non-loopback IPv4 address to try");
        for (const ip of others) assert.equal(await httpGet(`http://${ip}:${s.port}/`), undefined, `the proxy answers on ${ip}`);

        // The live routes are on the proxy's disk: restarted, it routes to the release again (not its bootstrap 503).
        await dockerOk(["restart", proxy]);
        await waitHealthy(proxy, 60_000);
        await healthy();
        timed("db healthcheck, proxy bindings, proxy restart", t);
    });

    it("the api seeds its superadmin once: after a `docker restart` of the api there is still one superadmin row, same id, same password hash", async () => {
        const t = Date.now();
        const seeded = `SELECT count(*) || ' ' || max(id) || ' ' || max("passwordHash") || ' ' || max(role) FROM users WHERE email = 'admin@cartie.test';`;
        const first = await psql(seeded);
        assert.match(first, /^1 \S+ \S+ superadmin$/);
        const api = await s.containerName("api");
        await dockerOk(["restart", api]);
        await waitHealthy(api, 120_000);
        // The seed runs after the server listens: wait for its line, then read the row it left.
        await waitFor("the restarted api's seed", async () => (/superadmin already present, password matches SEED_SUPERADMIN_PASSWORD, left unchanged/.test(await apiLogs(api)) ? true : undefined), 60_000, 500);
        assert.equal(await psql(seeded), first, "a second start rewrote or duplicated the superadmin");
        assert.equal(await psql(`SELECT count(*) FROM users WHERE role = 'superadmin';`), "1");
        timed("superadmin seeded once", t);
    });

    it("/api/health says 503 with the reason when a migration is pending or the db is stopped; with the db started again `pulumi up` converges", async () => {
        const t = Date.now();
        const last = await psql(`SELECT max(migration_name) FROM _prisma_migrations;`);
        await psql(`UPDATE _prisma_migrations SET rolled_back_at = now() WHERE migration_name = '${last}';`);
        try {
            assert.deepEqual(await health(), { status: 503, reason: `pending migrations: ${last}` });
        } finally {
            await psql(`UPDATE _prisma_migrations SET rolled_back_at = NULL WHERE migration_name = '${last}';`);
        }
        assert.equal((await health()).status, 200);

        await dockerOk(["stop", db]);
        try {
            const down = await health();
            assert.equal(down.status, 503);
            assert.match(down.reason ?? "", /^database unreachable/);
        } finally {
            await dockerOk(["start", db]);
        }
        const up = await s.up();
        await healthy();
        assert.deepEqual(namesOf(up, "create", "replace", "delete"), [], `the up replaced something for a db that was only stopped:\n${describeChanges(up)}`);
        timed("health 503 reasons, db stopped and up", t);
    });

    it("the incident's database (the app's tables with rows, no migration history) through the Migration step: the baseline is marked applied, v42 applied, after a verified backup; every row kept", async () => {
        const t = Date.now();
        await writeUsers(db, "incident", 300);
        // What the incident's host had: `users` made before history was tracked, nothing of later migrations.
        await psql(`DROP TABLE sessions; DROP TABLE _prisma_migrations;`);
        const rows = `SELECT count(*) || ':' || md5(string_agg(md5(u::text), '' ORDER BY id)) FROM users u;`;
        const before = await psql(rows);
        const earlier = readManifests(s.backupDir).map((m) => m.file);

        // A new db container on the same volume (as after a restore on the incident's host) runs the Migration step again.
        const up = await s.up({ replace: [await s.urn("db", "docker:index/container:Container")] });
        assert.ok(namesOf(up, "replace").includes("migration"), describeChanges(up));
        assert.equal(await psql(rows), before, "rows changed or were lost");
        assert.equal(
            await psql(`SELECT string_agg(migration_name || ':' || applied_steps_count, ',' ORDER BY migration_name) FROM _prisma_migrations WHERE finished_at IS NOT NULL AND rolled_back_at IS NULL;`),
            // `migrate resolve --applied` records the baseline without running a step of it.
            "v41_baseline:0,v42_add_sessions:1",
        );
        const taken = readManifests(s.backupDir).filter((m) => !earlier.includes(m.file));
        assert.equal(taken.length, 1, "no verified backup before the baseline resolve");
        assert.equal(taken[0].verifiedAgainstLive, true);
        assert.match(taken[0].note ?? "", /mark v41_baseline as applied: tables exist \(users\) but there is no migration history \(Prisma would refuse with P3005\); then apply 1 pending migration\(s\): v42_add_sessions/);
        await waitFor("the api to be healthy on the migrated database", async () => ((await health()).status === 200 ? true : undefined), 60_000, 1000);
        await healthy();
        await s.preview({ expectNoChanges: true });
        timed("incident database through the Migration step", t);
    });
});
