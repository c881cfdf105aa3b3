/* eslint-disable @typescript-eslint/require-await -- the fake host answers at once behind the async ReleaseHost interface */
import { strict as assert } from "node:assert";
import { Upstreams, renderCaddyfile } from "../../../lib/proxy/caddyfile";
import { ContainerState } from "../../../lib/health/gate";
import { ReleaseError, ReleaseHost, retireLeftovers, runRelease } from "../../../lib/release/release";
import { ReleaseSpec, Role } from "../../../lib/release/spec";

const OLD: Upstreams = { api: "p-api-aaaaaaa:3000", web: "p-web-bbbbbbb:8080" };
const NEW: Upstreams = { api: "p-api-ccccccc:3000", web: "p-web-bbbbbbb:8080" };

function specFor(desired: Upstreams, over: Partial<ReleaseSpec> = {}): ReleaseSpec {
    return {
        proxyContainer: "p-proxy",
        desired,
        listenPort: 80,
        candidatePort: 8081,
        apiPathPrefix: "/api",
        accessLog: false,
        smokePaths: ["/", "/api/health"],
        labels: { project: "cartie-platform", stack: "dev" },
        healthTimeoutSeconds: 30,
        drainTimeoutSeconds: 30,
        stopGraceSeconds: 30,
        ...over,
    };
}
const liveFile = (s: ReleaseSpec): string => renderCaddyfile({ listenPort: 80, candidatePort: 8081, live: s.desired, apiPathPrefix: "/api" });

/** The two upstreams a site of the rendered Caddyfile routes to, or undefined when it routes nowhere. */
function routesOf(caddyfile: string, port: number): [string, string] | undefined {
    const body = new RegExp(`^:${port} \\{\\n([\\s\\S]*?)^\\}$`, "m").exec(caddyfile)?.[1] ?? "";
    const ups = [...body.matchAll(/reverse_proxy (\S+) \{/g)].map((m) => m[1]);
    return ups.length === 2 ? [ups[0], ups[1]] : undefined;
}

const healthy = (name: string): ContainerState => ({ name, running: true, restarting: false, exitCode: 0, restartCount: 0, health: "healthy", probes: ["ok"] });

/**
 * A host that records what the release does, in order, with a clock that moves only when the
 * release sleeps. Containers answer through the proxy as `route` says; `states` scripts what
 * `docker inspect` shows for each container over successive reads.
 */
class FakeHost implements ReleaseHost {
    events: string[] = [];
    t = 0;
    proxy: { caddyfile?: string; live?: Upstreams } = {};
    running = new Set<string>();
    states = new Map<string, ContainerState[]>();
    /** Status a GET through the proxy answers, by the upstream it reaches. */
    answer = (_upstream: string): number => 200;
    inFlightReads = new Map<string, number[]>();
    labelled: Record<Role, string[]> = { api: [], web: [] };

    constructor(live: Upstreams | undefined, containers: string[]) {
        if (live) this.proxy = { caddyfile: renderCaddyfile({ listenPort: 80, candidatePort: 8081, live }), live };
        for (const c of containers) {
            this.running.add(c);
            this.labelled[c.includes("-api-") ? "api" : "web"].push(c);
        }
    }
    async inspect(c: string): Promise<ContainerState | undefined> {
        if (!this.running.has(c)) return undefined;
        const script = this.states.get(c);
        if (!script || script.length === 0) return healthy(c);
        return script.length > 1 ? script.shift() : script[0];
    }
    async logTail(c: string): Promise<string> {
        return `${c} line 1\n${c} DATABASE_URL=postgresql://cartie:hunter2-long-pass@db:5432/cartie boom\n`;
    }
    async liveRoutes(): Promise<Upstreams | undefined> {
        return this.proxy.live;
    }
    async currentCaddyfile(): Promise<string | undefined> {
        return this.proxy.caddyfile;
    }
    async loadConfig(_p: string, caddyfile: string, live: Upstreams | undefined): Promise<void> {
        this.proxy = { caddyfile, live };
        const users = routesOf(caddyfile, 80);
        const candidate = routesOf(caddyfile, 8081);
        this.events.push(`load users=${users?.join(",") ?? "none"} candidate=${candidate?.join(",") ?? "none"}`);
    }
    async get(_p: string, url: string): Promise<{ status?: number; detail: string }> {
        const c = routesOf(this.proxy.caddyfile ?? "", 8081);
        const upstream = url.includes("/api") ? c?.[0] : c?.[1];
        const status = upstream ? this.answer(upstream) : 503;
        this.events.push(`get ${new URL(url).pathname} → ${status}`);
        return { status, detail: `status ${status}` };
    }
    async inFlight(_p: string, upstream: string): Promise<number> {
        const reads = this.inFlightReads.get(upstream) ?? [];
        const n = reads.length > 1 ? (reads.shift() ?? 0) : (reads[0] ?? 0);
        this.events.push(`inflight ${upstream} ${n}`);
        return n;
    }
    async stop(c: string, grace: number): Promise<void> {
        this.events.push(`stop ${c} -t ${grace}`);
    }
    async remove(c: string): Promise<void> {
        this.running.delete(c);
        for (const role of ["api", "web"] as const) this.labelled[role] = this.labelled[role].filter((x) => x !== c);
        this.events.push(`rm ${c}`);
    }
    async containersOf(_l: ReleaseSpec["labels"], role: Role): Promise<string[]> {
        return [...this.labelled[role]];
    }
    now(): number {
        return this.t;
    }
    async sleep(ms: number): Promise<void> {
        this.t += ms;
    }
    log(): void {
        /* the summary and the events are what the tests read */
    }
}

const names = (u: Upstreams): string[] => [u.api.split(":")[0], u.web.split(":")[0]];

async function refused(p: Promise<unknown>): Promise<ReleaseError> {
    try {
        await p;
    } catch (err) {
        if (err instanceof ReleaseError) return err;
        throw err;
    }
    return assert.fail("the release was not refused");
}

describe("runRelease: the switchover, in order", () => {
    it("a good api release: gate, candidate route, smoke through the proxy, switch (the old upstream still named so Caddy counts its in-flight requests), drain, stop and remove the old one, then the steady config", async () => {
        const host = new FakeHost(OLD, [...names(OLD), "p-api-ccccccc"]);
        host.inFlightReads.set(OLD.api, [2, 1, 0]);
        const spec = specFor(NEW);
        const summary = await runRelease(host, spec, liveFile(spec));
        assert.deepEqual(host.events, [
            `load users=${OLD.api},${OLD.web} candidate=${NEW.api},${OLD.web}`,
            "get / → 200",
            "get /api/health → 200",
            `load users=${NEW.api},${NEW.web} candidate=${OLD.api},${NEW.web}`,
            `inflight ${OLD.api} 2`,
            `inflight ${OLD.api} 1`,
            `inflight ${OLD.api} 0`,
            "stop p-api-aaaaaaa -t 30",
            "rm p-api-aaaaaaa",
            `load users=${NEW.api},${NEW.web} candidate=${NEW.api},${NEW.web}`,
        ]);
        assert.deepEqual(summary.switched, ["api"]);
        assert.deepEqual(summary.retired, ["p-api-aaaaaaa"]);
        assert.deepEqual(host.proxy.live, NEW, "the live routes on the proxy's disk are the new ones");
        assert.equal(host.proxy.caddyfile, liveFile(spec));
    });

    const cases: Array<[string, ContainerState[], RegExp]> = [
        ["crashes at boot", [{ ...healthy("p-api-ccccccc"), running: false, restarting: true, exitCode: 1, restartCount: 2, health: "starting" as const, probes: [] }], /crashed \(exit code 1\), restarted 2 time\(s\)/],
        ["never passes its healthcheck", [{ ...healthy("p-api-ccccccc"), health: "starting" as const, probes: ["connect ECONNREFUSED 127.0.0.1:3000"] }], /did not become healthy within 30 s \(health: starting\)/],
        ["turns unhealthy", [{ ...healthy("p-api-ccccccc"), health: "unhealthy" as const, probes: ["status 503"] }], /is unhealthy: its healthcheck failed/],
    ];
    for (const [label, script, why] of cases) {
        it(`an api that ${label}: refused before any route changes, the bad container removed, the reason with its health output and masked logs`, async () => {
            const host = new FakeHost(OLD, [...names(OLD), "p-api-ccccccc"]);
            host.states.set("p-api-ccccccc", [...script]);
            const before = host.proxy.caddyfile;
            const err = await refused(runRelease(host, specFor(NEW), liveFile(specFor(NEW))));
            assert.match(err.message, /release refused, nothing was switched/);
            assert.match(err.message, new RegExp(`api container p-api-ccccccc ${why.source}`));
            for (const probe of script[0].probes) assert.ok(err.message.includes(probe), "the health output is not in the message");
            assert.match(err.message, /last log lines:\n {4}p-api-ccccccc line 1/);
            assert.ok(!err.message.includes("hunter2-long-pass"), "a password from the logs reached the message");
            assert.match(err.message, /keeps serving every request: api p-api-aaaaaaa, web p-web-bbbbbbb/);
            assert.deepEqual(host.events, ["rm p-api-ccccccc"], "something but removing the bad container happened");
            assert.equal(host.proxy.caddyfile, before);
            assert.deepEqual(host.proxy.live, OLD);
        });
    }

    it("an api healthy in its container but answering 500 through the proxy: the candidate listener goes back to the live release and nothing switches", async () => {
        const host = new FakeHost(OLD, [...names(OLD), "p-api-ccccccc"]);
        host.answer = (upstream) => (upstream === NEW.api ? 500 : 200);
        const err = await refused(runRelease(host, specFor(NEW), liveFile(specFor(NEW))));
        assert.match(err.message, /smoke check through the proxy failed for p-api-ccccccc: GET \/api\/health through the proxy answered 500, expected 200/);
        assert.ok(!host.events.some((e) => e.startsWith(`load users=${NEW.api}`)), "users were routed to the bad release");
        assert.equal(host.events[host.events.length - 2], `load users=${OLD.api},${OLD.web} candidate=${OLD.api},${OLD.web}`);
        assert.equal(host.events[host.events.length - 1], "rm p-api-ccccccc");
        assert.ok(!host.events.some((e) => e.startsWith("stop p-api-aaaaaaa")), "the serving container was stopped");
        assert.deepEqual(host.proxy.live, OLD);
    });

    it("a proxy no release has routed yet (new or recreated) is routed once the containers pass the gate and the smoke check", async () => {
        const host = new FakeHost(undefined, names(NEW));
        const spec = specFor(NEW);
        const summary = await runRelease(host, spec, liveFile(spec));
        assert.deepEqual(summary.switched, ["api", "web"]);
        assert.deepEqual(host.events.slice(0, 4), [`load users=none candidate=${NEW.api},${NEW.web}`, "get / → 200", "get /api/health → 200", `load users=${NEW.api},${NEW.web} candidate=${NEW.api},${NEW.web}`]);
        assert.deepEqual(summary.retired, []);
    });

    it("same routes: a changed Caddyfile is reloaded in place without touching a container; an unchanged one is a no-op", async () => {
        const spec = specFor(OLD, { accessLog: true });
        const file = renderCaddyfile({ listenPort: 80, candidatePort: 8081, live: OLD, accessLog: true });
        const host = new FakeHost(OLD, names(OLD));
        const first = await runRelease(host, spec, file);
        assert.equal(first.configReloaded, true);
        assert.deepEqual(host.events, [`load users=${OLD.api},${OLD.web} candidate=${OLD.api},${OLD.web}`]);
        const second = await runRelease(host, spec, file);
        assert.equal(second.configReloaded, false);
        assert.equal(host.events.length, 1, "a second run changed something");
    });

    it("retires leftovers of failed or interrupted releases, never a container it routes to", async () => {
        const host = new FakeHost(NEW, [...names(NEW), "p-api-ddddddd", "p-web-eeeeeee"]);
        const summary = await runRelease(host, specFor(NEW), renderCaddyfile({ listenPort: 80, candidatePort: 8081, live: NEW }));
        assert.deepEqual(summary.retired, ["p-api-ddddddd", "p-web-eeeeeee"]);
        assert.ok(host.running.has("p-api-ccccccc") && host.running.has("p-web-bbbbbbb"));
    });

    it("an old container still busy after the drain timeout is stopped anyway, with its grace period", async () => {
        const host = new FakeHost(OLD, [...names(OLD), "p-api-ccccccc"]);
        host.inFlightReads.set(OLD.api, [1]);
        await runRelease(host, specFor(NEW, { drainTimeoutSeconds: 2 }), liveFile(specFor(NEW)));
        assert.ok(host.t >= 2000 && host.t < 4000, `drained for ${host.t} ms`);
        assert.ok(host.events.includes("stop p-api-aaaaaaa -t 30"));
    });

    it("retireLeftovers (the Release's delete: pulumi destroy, or the Release itself replaced) never stops a container the spec or the proxy routes to", async () => {
        // The proxy serves OLD; the spec (the deleted Release's inputs) names NEW's api; one leftover of a killed release.
        const host = new FakeHost(OLD, [...names(OLD), "p-api-ccccccc", "p-api-ddddddd"]);
        assert.deepEqual(await retireLeftovers(host, specFor(NEW)), ["p-api-ddddddd"]);
        assert.deepEqual(host.events, ["stop p-api-ddddddd -t 30", "rm p-api-ddddddd"]);
    });

    it("retireLeftovers with the Release replaced in place (same spec, same live routes): stops nothing", async () => {
        const host = new FakeHost(OLD, names(OLD));
        assert.deepEqual(await retireLeftovers(host, specFor(OLD)), []);
        assert.deepEqual(host.events, []);
    });

    it("retireLeftovers when the proxy cannot be read: the spec's containers are still kept", async () => {
        const host = new FakeHost(OLD, [...names(OLD), "p-api-ddddddd"]);
        host.liveRoutes = () => Promise.reject(new Error("no such container p-proxy"));
        assert.deepEqual(await retireLeftovers(host, specFor(OLD)), ["p-api-ddddddd"]);
    });
});

describe("runRelease with the public side on HTTPS", () => {
    it("every config it loads (candidate, switch, steady) keeps the HTTPS site, and the smoke check stays on the plain candidate listener", async () => {
        const https = { domains: ["cartie.test"], issuer: "internal" as const, httpPort: 18080, httpsPort: 18443 };
        const host = new FakeHost(OLD, [...names(OLD), "p-api-ccccccc"]);
        const loaded: string[] = [];
        const load = host.loadConfig.bind(host);
        host.loadConfig = async (p, caddyfile, live) => {
            loaded.push(caddyfile);
            return load(p, caddyfile, live);
        };
        const gets: string[] = [];
        const get = host.get.bind(host);
        host.get = async (p, url) => {
            gets.push(url);
            return get(p, url);
        };
        const spec = specFor(NEW, { https });
        const live = renderCaddyfile({ listenPort: 80, candidatePort: 8081, live: spec.desired, apiPathPrefix: "/api", https });
        const summary = await runRelease(host, spec, live);
        assert.deepEqual(summary.switched, ["api"]);
        assert.ok(loaded.length >= 3, `only ${loaded.length} loads`);
        for (const file of loaded) {
            assert.match(file, /^cartie\.test \{\n\ttls internal\n\theader Strict-Transport-Security/m);
            assert.match(file, /^\thttps_port 18443$/m);
            assert.doesNotMatch(file, /auto_https off/);
        }
        assert.equal(loaded[loaded.length - 1], live);
        assert.deepEqual(gets, ["http://127.0.0.1:8081/", "http://127.0.0.1:8081/api/health"]);
    });
});
