import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { envMap, parseVolumeProbe, reachableAddress, toContainerFacts } from "../../../lib/takeover/inspect";
import { TakeoverRefused, planTakeover, renderPlan } from "../../../lib/takeover/plan";
import { readManifests } from "../../../lib/backup/store";
import { StepContext, backup, preflight, takeover } from "../../../lib/takeover/steps";
import { DUMP, FakeHost } from "./fakeHost";
import { INPUTS, facts, legacyApi, legacyDb, legacyWeb } from "./fixtures";

function context(host: FakeHost): StepContext & { lines: string[] } {
    const lines: string[] = [];
    return {
        host,
        inputs: { ...INPUTS },
        password: "pw",
        backupDir: fs.mkdtempSync(path.join(os.tmpdir(), "takeover-unit-")),
        log: (l) => lines.push(l),
        now: () => new Date("2026-11-25T19:40:02.000Z"),
        lines,
    };
}

async function refused(p: Promise<unknown>): Promise<TakeoverRefused> {
    try {
        await p;
    } catch (err) {
        if (err instanceof TakeoverRefused) return err;
        throw err;
    }
    assert.fail("not refused");
}

describe("takeover steps on a host in memory", () => {
    it("preflight only reads, and refuses a version mismatch with nothing stopped", async () => {
        const host = new FakeHost();
        host.pgVersion = "14";
        const ctx = context(host);
        await refused(preflight(ctx));
        assert.match(ctx.lines.join("\n"), /REFUSED: data volume infra2_db-data was written by PostgreSQL 14/);
        assert.ok(!host.calls.some((c) => /^(stop|rm|dump)/.test(c)), host.calls.join(", "));
    });

    it("finds the data directory where the legacy db's PGDATA puts it, and refuses until cartie:pgdataSubdir says so", async () => {
        const host = new FakeHost();
        host.containers = [legacyDb({ env: { ...legacyDb().env, PGDATA: "/var/lib/postgresql/data/pgdata" } }), legacyApi(), legacyWeb()];
        host.dataSubdir = "pgdata";
        const ctx = context(host);
        await refused(preflight(ctx));
        assert.deepEqual(host.probes[0], ["", "pgdata"], "the probe did not look where the legacy db keeps its data");
        assert.match(ctx.lines.join("\n"), /REFUSED: legacy db infra2-db-1 keeps its data directory in pgdata\/ of volume infra2_db-data .* Run `pulumi config set cartie:pgdataSubdir pgdata`/);
        for (const step of [backup, takeover]) await refused(step(ctx));
        assert.deepEqual(host.calls.filter((c) => !c.startsWith("checkPassword")), [], "a refused step changed something");

        const ok = context(host);
        ok.inputs.pgdataSubdir = "pgdata";
        const plan = await preflight(ok);
        assert.deepEqual(plan.problems, []);
        assert.match(ok.lines.join("\n"), /PostgreSQL 15 data directory in pgdata\/, matches/);
    });

    it("refuses, before anything changes, a volume whose root is not a data directory nor the parent of the legacy db's", async () => {
        const host = new FakeHost();
        host.probeVolume = () => Promise.resolve({ entries: ["dump.sql", "notes"], pgVersions: {} });
        const ctx = context(host);
        await refused(preflight(ctx));
        assert.match(ctx.lines.join("\n"), /REFUSED: data volume infra2_db-data's root is neither a Postgres data directory nor the parent of the one legacy db infra2-db-1 uses .* it holds dump\.sql, notes/);
        for (const step of [backup, takeover]) await refused(step(ctx));
        assert.deepEqual(host.calls, [], "a refused step changed something");
    });

    it("backup writes the dump and its manifest, never overwrites, leaves no partial file", async () => {
        const host = new FakeHost();
        const ctx = context(host);
        const first = await backup(ctx);
        const second = await backup(ctx); // same second: a new name, not an overwrite
        assert.equal(first?.file, "20261125T194002Z-takeover-infra2.sql");
        assert.equal(second?.file, "20261125T194002Z-takeover-infra2-2.sql");
        assert.deepEqual(first?.rowCounts, { "public.users": 2 });
        assert.deepEqual(fs.readdirSync(ctx.backupDir).sort(), ["20261125T194002Z-takeover-infra2-2.json", "20261125T194002Z-takeover-infra2-2.sql", "20261125T194002Z-takeover-infra2.json", "20261125T194002Z-takeover-infra2.sql"]);
        assert.equal(readManifests(ctx.backupDir).length, 2);
        assert.ok(host.calls.includes("dump 172.18.0.2 cartie/cartie"));
        assert.ok(!host.calls.some((c) => /^(stop|rm)/.test(c)), "the backup touched a container");
        assert.match(ctx.lines.join("\n"), /rows per table: public\.users=2/);
    });

    it("a dump without its end marker is not a backup", async () => {
        const host = new FakeHost();
        host.dumpText = DUMP.split("\n").slice(0, 4).join("\n");
        const ctx = context(host);
        await assert.rejects(backup(ctx), /incomplete/);
        assert.deepEqual(fs.readdirSync(ctx.backupDir), []);
    });

    it("takeover refuses without a backup, then stops and removes web, api, the db last (SIGINT), and waits for the volume", async () => {
        const host = new FakeHost();
        const ctx = context(host);
        await refused(takeover(ctx));
        assert.ok(!host.calls.some((c) => /^(stop|rm)/.test(c)));
        await backup(ctx);
        host.lingering = 3;
        const out = await takeover(ctx);
        assert.deepEqual(
            host.calls.filter((c) => /^(stop|rm)/.test(c)),
            ["stop infra2-web-1 10", "rm infra2-web-1", "stop infra2-api-1 10", "rm infra2-api-1", "stop infra2-db-1 60 SIGINT", "rm infra2-db-1"],
        );
        assert.deepEqual(out.removed, ["infra2-web-1", "infra2-api-1", "infra2-db-1"]);
        assert.equal(host.lingering, 0, "did not wait until the volume was free");
        assert.match(ctx.lines.join("\n"), /volume infra2_db-data is free/);
    });

    it("times out, naming the server, if something still runs on the volume", async () => {
        const host = new FakeHost();
        const ctx = { ...context(host), releaseTimeoutMs: -1 };
        await backup(ctx);
        host.lingering = 1000;
        await assert.rejects(takeover(ctx), /volume infra2_db-data is still in use \(infra2-db-1\)/);
    });

    it("re-run after an interruption at any point finishes; then every step is a no-op", async () => {
        for (let cut = 0; cut <= 3; cut++) {
            const host = new FakeHost();
            const ctx = context(host);
            await backup(ctx);
            // the first `cut` removals happened before the interruption
            for (const name of ["infra2-web-1", "infra2-api-1", "infra2-db-1"].slice(0, cut)) {
                await host.stop(name, 1);
                await host.remove(name);
            }
            if (cut === 3) host.containers = [];
            await takeover(ctx);
            assert.deepEqual(host.containers, []);
            for (const step of [preflight, backup, takeover]) {
                const lines: string[] = [];
                await step({ ...ctx, log: (l) => lines.push(l) });
                assert.match(lines.join("\n"), /nothing legacy left/);
            }
        }
    });

    it("a stopped legacy db with a backup: the backup is reused, the takeover finishes", async () => {
        const host = new FakeHost();
        const ctx = context(host);
        await backup(ctx);
        await host.stop("infra2-db-1", 1);
        host.calls = [];
        const reused = await backup(ctx);
        assert.equal(reused?.file, "20261125T194002Z-takeover-infra2.sql");
        assert.ok(!host.calls.some((c) => c.startsWith("dump")));
        await takeover(ctx);
        assert.deepEqual(host.containers, []);
    });
});

describe("takeover: docker inspect facts", () => {
    const inspect = {
        Id: "abc",
        Name: "/infra2-web-1",
        Config: { Image: "infra2-web", Env: ["A=1", "URL=x=y", "BROKEN"], Labels: { "com.docker.compose.service": "web" } },
        State: { Status: "restarting", Running: true, Restarting: true },
        Mounts: [{ Type: "volume", Name: "infra2_db-data", Source: "/var/lib/docker/volumes/x", Destination: "/var/lib/postgresql/data" }],
        HostConfig: { PortBindings: { "8080/tcp": [{ HostIp: "127.0.0.1", HostPort: "8082" }], "9000/tcp": [{ HostIp: "", HostPort: "" }] } },
        NetworkSettings: { Ports: { "8080/tcp": [{ HostIp: "127.0.0.1", HostPort: "8082" }] }, Networks: { bridge: { IPAddress: "172.17.0.3" }, infra2_default: { IPAddress: "172.18.0.4" } } },
    };

    it("maps name, service, state, mounts, configured ports and env", () => {
        const c = toContainerFacts(inspect);
        assert.equal(c.name, "infra2-web-1");
        assert.equal(c.service, "web");
        assert.equal(c.live, true);
        assert.deepEqual(c.ports, [
            { hostIp: "127.0.0.1", hostPort: 8082, containerPort: "8080/tcp" },
            { hostIp: "0.0.0.0", hostPort: 0, containerPort: "9000/tcp" },
        ]);
        assert.deepEqual(c.mounts, [{ type: "volume", name: "infra2_db-data", source: "/var/lib/docker/volumes/x", destination: "/var/lib/postgresql/data" }]);
        assert.deepEqual(envMap(inspect.Config.Env), { A: "1", URL: "x=y" });
    });

    it("lists a port published on every interface once, not once per address family and once from the config", () => {
        const all = [{ HostIp: "0.0.0.0", HostPort: "8082" }, { HostIp: "::", HostPort: "8082" }];
        const c = toContainerFacts({ ...inspect, HostConfig: { PortBindings: { "8080/tcp": [{ HostIp: "", HostPort: "8082" }] } }, NetworkSettings: { Ports: { "8080/tcp": all } } });
        assert.deepEqual(c.ports, [{ hostIp: "0.0.0.0", hostPort: 8082, containerPort: "8080/tcp" }]);
        const plan = planTakeover(facts({ legacy: [legacyDb(), legacyWeb({ ports: c.ports })] }));
        assert.match(renderPlan(plan).join("\n"), /holds public port 0\.0\.0\.0:8082->8080\/tcp; compose/);
        const v6 = toContainerFacts({ ...inspect, HostConfig: {}, NetworkSettings: { Ports: { "8080/tcp": [{ HostIp: "::1", HostPort: "8082" }, { HostIp: "127.0.0.1", HostPort: "8082" }] } } });
        assert.equal(v6.ports.length, 2, "two specific addresses are two bindings");
    });

    it("reads what a look into the volume printed: root names and every PG_VERSION found", () => {
        const probe = parseVolumeProbe("entry .hidden\nentry a b\nentry pgdata\npgversion pgdata\t15\npgversion \t14\n");
        assert.deepEqual(probe, { entries: [".hidden", "a b", "pgdata"], pgVersions: { pgdata: "15", "": "14" } });
        assert.deepEqual(parseVolumeProbe(""), { entries: [], pgVersions: {} });
    });

    it("reaches a container on its project's default network first", () => {
        assert.deepEqual(reachableAddress(toContainerFacts(inspect), "infra2"), { network: "infra2_default", host: "172.18.0.4" });
        const stopped = toContainerFacts({ ...inspect, NetworkSettings: { Networks: { infra2_default: { IPAddress: "" } } } });
        assert.equal(reachableAddress(stopped, "infra2"), undefined);
    });

    it("the Docker module never removes a volume: no `rm -v`, no `volume rm`, no `-f` on rm", () => {
        const src = fs.readFileSync(path.resolve(__dirname, "../../../lib/takeover/host.ts"), "utf8");
        assert.doesNotMatch(src, /"volume",\s*"(rm|remove|prune)"/);
        assert.doesNotMatch(src, /"rm",\s*"-[a-z]*[vf]/);
        assert.doesNotMatch(src, /"(prune|--volumes)"/);
    });
});
