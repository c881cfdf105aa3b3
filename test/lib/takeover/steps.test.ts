import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { DbAddress, TakeoverHost } from "../../../lib/takeover/host";
import { envMap, reachableAddress, toContainerFacts } from "../../../lib/takeover/inspect";
import { TakeoverRefused } from "../../../lib/takeover/plan";
import { readManifests } from "../../../lib/backup/store";
import { StepContext, backup, preflight, takeover } from "../../../lib/takeover/steps";
import { ContainerFacts } from "../../../lib/takeover/types";
import { legacyApi, legacyDb, legacyWeb } from "./fixtures";

const DUMP = ["-- PostgreSQL database dump", "COPY public.users (id) FROM stdin;", "a", "b", "\\.", "", "-- PostgreSQL database dump complete", ""].join("\n");

/** A host in memory: the legacy containers, what the steps called, and knobs for failures. */
class FakeHost implements TakeoverHost {
    calls: string[] = [];
    containers: ContainerFacts[] = [legacyDb(), legacyApi(), legacyWeb()];
    pgVersion = "15";
    dumpText = DUMP;
    /** Polls of liveOnVolume that still report the old db after its removal. */
    lingering = 0;
    accepts = true;

    projectContainers = (): Promise<ContainerFacts[]> => Promise.resolve(this.containers.map((c) => ({ ...c })));
    volumeContainers = (): Promise<ContainerFacts[]> => Promise.resolve(this.containers.filter((c) => c.mounts.length > 0));
    volumeExists = (): Promise<boolean> => Promise.resolve(true);
    readPgVersion = (): Promise<string | undefined> => Promise.resolve(this.pgVersion);
    serverVersion = (): Promise<string> => Promise.resolve("postgres (PostgreSQL) 15.10");
    checkPassword = (_i: string, _a: DbAddress, _p: string): Promise<boolean> => {
        this.calls.push("checkPassword");
        return Promise.resolve(this.accepts);
    };
    dump = (_i: string, at: DbAddress, _p: string, out: string): Promise<void> => {
        this.calls.push(`dump ${at.host} ${at.user}/${at.db}`);
        fs.writeFileSync(out, this.dumpText, { flag: "wx" });
        return Promise.resolve();
    };
    exists = (name: string): Promise<boolean> => Promise.resolve(this.containers.some((c) => c.name === name));
    liveOnVolume = (): Promise<string[]> => {
        if (this.lingering > 0) {
            this.lingering--;
            return Promise.resolve(["infra2-db-1"]);
        }
        return Promise.resolve(this.containers.filter((c) => c.live && c.mounts.length > 0).map((c) => c.name));
    };
    sleep = (): Promise<void> => Promise.resolve();

    stop(name: string, seconds: number, signal?: string): Promise<"stopped" | "gone"> {
        this.calls.push(`stop ${name} ${seconds}${signal ? ` ${signal}` : ""}`);
        const c = this.containers.find((x) => x.name === name);
        if (!c) return Promise.resolve("gone");
        c.live = false;
        c.state = "exited";
        return Promise.resolve("stopped");
    }

    remove(name: string): Promise<"removed" | "gone"> {
        this.calls.push(`rm ${name}`);
        const before = this.containers.length;
        this.containers = this.containers.filter((x) => x.name !== name);
        return Promise.resolve(before === this.containers.length ? "gone" : "removed");
    }
}

function context(host: FakeHost): StepContext & { lines: string[] } {
    const lines: string[] = [];
    return {
        host,
        inputs: { project: "infra2", dataVolume: "infra2_db-data", publicPort: 8082, postgresImage: "postgres:15.10-bookworm" },
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
            { hostIp: "", hostPort: 0, containerPort: "9000/tcp" },
        ]);
        assert.deepEqual(c.mounts, [{ type: "volume", name: "infra2_db-data", source: "/var/lib/docker/volumes/x", destination: "/var/lib/postgresql/data" }]);
        assert.deepEqual(envMap(inspect.Config.Env), { A: "1", URL: "x=y" });
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
