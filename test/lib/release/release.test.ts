/* eslint-disable @typescript-eslint/require-await -- the fake host answers at once behind the async ReleaseHost interface */
import { strict as assert } from "node:assert";
import { ContainerState } from "../../../lib/health/gate";
import { ReleaseError, ReleaseHost, retireLeftovers, routedCaddyfile, runRelease } from "../../../lib/release/release";
import { ReleaseSpec, Role } from "../../../lib/release/spec";
import { RoleContainers, Routes } from "../../../lib/routes/names";
import { renderCaddyfile } from "../../../lib/proxy/caddyfile";

const OLD: RoleContainers = { api: "p-api-aaaaaaa", web: "p-web-bbbbbbb" };
const NEW: RoleContainers = { api: "p-api-ccccccc", web: "p-web-bbbbbbb" };
const ADDRESS: Record<string, string> = { "p-api-aaaaaaa": "10.0.0.2", "p-web-bbbbbbb": "10.0.0.3", "p-api-ccccccc": "10.0.0.4" };

function specFor(desired: RoleContainers, over: Partial<ReleaseSpec> = {}): ReleaseSpec {
    return {
        proxyContainer: "p-proxy",
        routesContainer: "p-routes-1234567",
        network: "p-net",
        desired,
        ports: { api: 3000, web: 8080 },
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
const routedFile = (s: ReleaseSpec): string => routedCaddyfile(s);
const BOOTSTRAP = renderCaddyfile({ listenPort: 80, candidatePort: 8081 });
const show = (c: RoleContainers | undefined): string => (c ? `${c.api},${c.web}` : "none");

const healthy = (name: string): ContainerState => ({ name, running: true, restarting: false, exitCode: 0, restartCount: 0, health: "healthy", probes: ["ok"] });

/**
 * A host that records what the release does, in order, with a clock that moves only when the
 * release sleeps. The routes responder holds `routes`; a GET through the candidate listener
 * reaches the candidate records' container; `states` scripts what `docker inspect` shows.
 */
class FakeHost implements ReleaseHost {
    events: string[] = [];
    t = 0;
    routesNow: Routes = {};
    caddyfile: string | undefined;
    running = new Set<string>();
    states = new Map<string, ContainerState[]>();
    /** Status a GET through the proxy answers, by the container it reaches. */
    answer = (_container: string): number => 200;
    inFlightReads = new Map<string, number[]>();
    labelled: Record<Role, string[]> = { api: [], web: [] };

    constructor(live: RoleContainers | undefined, containers: string[], spec = specFor(OLD)) {
        if (live) {
            this.routesNow = { live, candidate: live };
            this.caddyfile = routedFile(spec);
        } else this.caddyfile = BOOTSTRAP;
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
    async routes(): Promise<Routes> {
        return this.routesNow;
    }
    async writeRoutes(_r: string, routes: Routes): Promise<void> {
        this.routesNow = routes;
        this.events.push(`records live=${show(routes.live)} candidate=${show(routes.candidate)}`);
    }
    async currentCaddyfile(): Promise<string | undefined> {
        return this.caddyfile;
    }
    async loadConfig(_p: string, caddyfile: string): Promise<void> {
        this.caddyfile = caddyfile;
        this.events.push("load config");
    }
    async getAll(_p: string, urls: string[]): Promise<Array<{ status?: number; detail: string }>> {
        return urls.map((url) => {
            const c = this.caddyfile === BOOTSTRAP ? undefined : this.routesNow.candidate;
            const container = url.includes("/api") ? c?.api : c?.web;
            const status = container ? this.answer(container) : 503;
            this.events.push(`get ${new URL(url).pathname} → ${status}`);
            return { status, detail: `status ${status}` };
        });
    }
    async addressOn(c: string, network: string): Promise<string | undefined> {
        assert.equal(network, "p-net");
        return this.running.has(c) ? ADDRESS[c] : undefined;
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
        this.events.push(`sleep ${ms}`);
    }
    log(): void {
        /* the summary and the events are what the tests read */
    }
}

const names = (u: RoleContainers): string[] => [u.api, u.web];

async function refused(p: Promise<unknown>): Promise<ReleaseError> {
    try {
        await p;
    } catch (err) {
        if (err instanceof ReleaseError) return err;
        throw err;
    }
    return assert.fail("the release was not refused");
}

describe("runRelease: the switchover, in order, with no config load", () => {
    it("a good api release: gate, candidate records, smoke through the proxy, one write switches users, drain, stop and remove the old one; Caddy's config is never loaded", async () => {
        const host = new FakeHost(OLD, [...names(OLD), "p-api-ccccccc"]);
        host.inFlightReads.set("10.0.0.2:3000", [2, 1, 0]);
        const spec = specFor(NEW);
        const summary = await runRelease(host, spec, routedFile(spec));
        assert.deepEqual(host.events, [
            `records live=${show(OLD)} candidate=${show(NEW)}`,
            "sleep 150",
            "get / → 200",
            "get /api/health → 200",
            `records live=${show(NEW)} candidate=${show(NEW)}`,
            "sleep 150",
            "inflight 10.0.0.2:3000 2",
            "sleep 100",
            "inflight 10.0.0.2:3000 1",
            "sleep 100",
            "inflight 10.0.0.2:3000 0",
            "stop p-api-aaaaaaa -t 30",
            "rm p-api-aaaaaaa",
        ]);
        assert.deepEqual(summary.switched, ["api"]);
        assert.deepEqual(summary.retired, ["p-api-aaaaaaa"]);
        assert.equal(summary.configReloaded, false);
        assert.equal(summary.configReason, undefined);
        assert.deepEqual(host.routesNow, { live: NEW, candidate: NEW });
        assert.equal(summary.gateToSwitchMs, 300, "healthy → serving: the two record pick-ups (the smoke's GETs take no time on this clock)");
        assert.equal(summary.servingAt! - summary.switchedAt!, 150);
    });

    const cases: Array<[string, ContainerState[], RegExp]> = [
        ["crashes at boot", [{ ...healthy("p-api-ccccccc"), running: false, restarting: true, exitCode: 1, restartCount: 2, health: "starting" as const, probes: [] }], /crashed \(exit code 1\), restarted 2 time\(s\)/],
        ["never passes its healthcheck", [{ ...healthy("p-api-ccccccc"), health: "starting" as const, probes: ["connect ECONNREFUSED 127.0.0.1:3000"] }], /did not become healthy within 30 s \(health: starting\)/],
        ["turns unhealthy", [{ ...healthy("p-api-ccccccc"), health: "unhealthy" as const, probes: ["status 503"] }], /is unhealthy: its healthcheck failed/],
    ];
    for (const [label, script, why] of cases) {
        it(`an api that ${label}: refused before any record changes, the bad container removed, the reason with its health output and masked logs`, async () => {
            const host = new FakeHost(OLD, [...names(OLD), "p-api-ccccccc"]);
            host.states.set("p-api-ccccccc", [...script]);
            const before = host.caddyfile;
            const err = await refused(runRelease(host, specFor(NEW), routedFile(specFor(NEW))));
            assert.match(err.message, /release refused, nothing was switched/);
            assert.match(err.message, new RegExp(`api container p-api-ccccccc ${why.source}`));
            for (const probe of script[0].probes) assert.ok(err.message.includes(probe), "the health output is not in the message");
            assert.match(err.message, /last log lines:\n {4}p-api-ccccccc line 1/);
            assert.ok(!err.message.includes("hunter2-long-pass"), "a password from the logs reached the message");
            assert.match(err.message, /keeps serving every request: api p-api-aaaaaaa, web p-web-bbbbbbb/);
            assert.deepEqual(host.events.filter((e) => !e.startsWith("sleep")), ["rm p-api-ccccccc"], "something but removing the bad container happened");
            assert.equal(host.caddyfile, before);
            assert.deepEqual(host.routesNow, { live: OLD, candidate: OLD });
        });
    }

    it("an api healthy in its container but answering 500 through the proxy: the candidate records go back to the live release, the live ones never changed", async () => {
        const host = new FakeHost(OLD, [...names(OLD), "p-api-ccccccc"]);
        host.answer = (c) => (c === NEW.api ? 500 : 200);
        const err = await refused(runRelease(host, specFor(NEW), routedFile(specFor(NEW))));
        assert.match(err.message, /smoke check through the proxy failed for p-api-ccccccc: GET \/api\/health through the proxy answered 500, expected 200/);
        assert.ok(!host.events.some((e) => e.startsWith(`records live=${show(NEW)}`)), "users were routed to the bad release");
        assert.equal(host.events[host.events.length - 2], `records live=${show(OLD)} candidate=${show(OLD)}`);
        assert.equal(host.events[host.events.length - 1], "rm p-api-ccccccc");
        assert.ok(!host.events.some((e) => e.startsWith("stop p-api-aaaaaaa")), "the serving container was stopped");
        assert.ok(!host.events.includes("load config"), "a bad release loaded a config");
        assert.deepEqual(host.routesNow, { live: OLD, candidate: OLD });
    });

    it("a proxy on its bootstrap config (new or recreated) and no records yet: candidate records, the one config load (said why), smoke, then the live records", async () => {
        const host = new FakeHost(undefined, names(NEW));
        const spec = specFor(NEW);
        const summary = await runRelease(host, spec, routedFile(spec));
        assert.deepEqual(summary.switched, ["api", "web"]);
        assert.deepEqual(host.events.slice(0, 6), [`records live=none candidate=${show(NEW)}`, "load config", "sleep 150", "get / → 200", "get /api/health → 200", `records live=${show(NEW)} candidate=${show(NEW)}`]);
        assert.equal(summary.configReloaded, true);
        assert.match(summary.configReason ?? "", /bootstrap config/);
        assert.deepEqual(summary.retired, []);
    });

    it("a recreated proxy whose records are there: the one load, no container touched, no record rewritten", async () => {
        const host = new FakeHost(OLD, names(OLD));
        host.caddyfile = BOOTSTRAP;
        const summary = await runRelease(host, specFor(OLD), routedFile(specFor(OLD)));
        assert.deepEqual(host.events, ["load config"]);
        assert.deepEqual(summary.switched, []);
        assert.match(summary.configReason ?? "", /bootstrap config/);
    });

    it("a routing change (the access log on) is one config load, said as a routing change; the next run loads nothing", async () => {
        const spec = specFor(OLD, { accessLog: true });
        const host = new FakeHost(OLD, names(OLD));
        const first = await runRelease(host, spec, routedFile(spec));
        assert.equal(first.configReloaded, true);
        assert.match(first.configReason ?? "", /routing changed/);
        assert.deepEqual(host.events, ["load config"]);
        const second = await runRelease(host, spec, routedFile(spec));
        assert.equal(second.configReloaded, false);
        assert.equal(host.events.length, 1, "a second run changed something");
    });

    it("a routing change together with a release: still one load, before the smoke check (which goes through the new routing)", async () => {
        const spec = specFor(NEW, { accessLog: true });
        const host = new FakeHost(OLD, [...names(OLD), "p-api-ccccccc"]);
        const summary = await runRelease(host, spec, routedFile(spec));
        assert.equal(host.events.filter((e) => e === "load config").length, 1);
        assert.ok(host.events.indexOf("load config") < host.events.indexOf("get / → 200"));
        assert.deepEqual(summary.switched, ["api"]);
    });

    it("records an interrupted release left on its candidate are put back on the live release", async () => {
        const host = new FakeHost(OLD, names(OLD));
        host.routesNow = { live: OLD, candidate: { api: "p-api-fffffff", web: OLD.web } };
        await runRelease(host, specFor(OLD), routedFile(specFor(OLD)));
        assert.deepEqual(host.events, [`records live=${show(OLD)} candidate=${show(OLD)}`]);
    });

    it("retires leftovers of failed or interrupted releases, never a container it routes to", async () => {
        const host = new FakeHost(NEW, [...names(NEW), "p-api-ddddddd", "p-web-eeeeeee"]);
        const summary = await runRelease(host, specFor(NEW), routedFile(specFor(NEW)));
        assert.deepEqual(summary.retired, ["p-api-ddddddd", "p-web-eeeeeee"]);
        assert.ok(host.running.has("p-api-ccccccc") && host.running.has("p-web-bbbbbbb"));
    });

    it("an old container still busy after the drain timeout is stopped anyway, with its grace period", async () => {
        const host = new FakeHost(OLD, [...names(OLD), "p-api-ccccccc"]);
        host.inFlightReads.set("10.0.0.2:3000", [1]);
        await runRelease(host, specFor(NEW, { drainTimeoutSeconds: 2 }), routedFile(specFor(NEW)));
        assert.ok(host.t >= 2000 && host.t < 4000, `drained for ${host.t} ms`);
        assert.ok(host.events.includes("stop p-api-aaaaaaa -t 30"));
    });

    it("retireLeftovers (the Release's delete: pulumi destroy, or the Release itself replaced) never stops a container the spec or the records route to", async () => {
        // The records serve OLD; the spec (the deleted Release's inputs) names NEW's api; one leftover of a killed release.
        const host = new FakeHost(OLD, [...names(OLD), "p-api-ccccccc", "p-api-ddddddd"]);
        assert.deepEqual(await retireLeftovers(host, specFor(NEW)), ["p-api-ddddddd"]);
        assert.deepEqual(host.events, ["stop p-api-ddddddd -t 30", "rm p-api-ddddddd"]);
    });

    it("retireLeftovers with the Release replaced in place (same spec, same records): stops nothing", async () => {
        const host = new FakeHost(OLD, names(OLD));
        assert.deepEqual(await retireLeftovers(host, specFor(OLD)), []);
        assert.deepEqual(host.events, []);
    });

    it("retireLeftovers when the responder cannot be read: the spec's containers are still kept", async () => {
        const host = new FakeHost(OLD, [...names(OLD), "p-api-ddddddd"]);
        host.routes = () => Promise.reject(new Error("no such container p-routes-1234567"));
        assert.deepEqual(await retireLeftovers(host, specFor(OLD)), ["p-api-ddddddd"]);
    });
});

describe("runRelease with the public side on HTTPS", () => {
    it("the config it loads keeps the HTTPS site, and the smoke check stays on the plain candidate listener", async () => {
        const https = { domains: ["cartie.test"], issuer: "internal" as const, httpPort: 18080, httpsPort: 18443 };
        const host = new FakeHost(undefined, names(NEW));
        const loaded: string[] = [];
        const load = host.loadConfig.bind(host);
        host.loadConfig = async (p, caddyfile) => {
            loaded.push(caddyfile);
            return load(p, caddyfile);
        };
        const gets: string[] = [];
        const getAll = host.getAll.bind(host);
        host.getAll = async (p, urls) => {
            gets.push(...urls);
            return getAll(p, urls);
        };
        const spec = specFor(NEW, { https });
        const summary = await runRelease(host, spec, routedFile(spec));
        assert.deepEqual(summary.switched, ["api", "web"]);
        assert.equal(loaded.length, 1);
        assert.match(loaded[0], /^cartie\.test \{\n\ttls internal\n\theader Strict-Transport-Security/m);
        assert.match(loaded[0], /^\thttps_port 18443$/m);
        assert.doesNotMatch(loaded[0], /auto_https off/);
        assert.deepEqual(gets, ["http://127.0.0.1:8081/", "http://127.0.0.1:8081/api/health"]);
    });
});
