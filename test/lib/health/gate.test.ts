import { strict as assert } from "node:assert";
import { ContainerState, readGate, waitUntilHealthy } from "../../../lib/health/gate";
import { inFlightFrom, smokeResults, statusFromWget } from "../../../lib/release/dockerHost";
import { parseReleaseSpec } from "../../../lib/release/spec";
import { parseRecordsFile, recordsFile } from "../../../lib/routes/names";

const base: ContainerState = { name: "c", running: true, restarting: false, exitCode: 0, restartCount: 0, health: "starting", probes: [] };

describe("readGate: Docker's own verdict decides, a crash fails at once", () => {
    it("healthy passes; starting waits until the timeout, then fails saying so", () => {
        assert.equal(readGate({ ...base, health: "healthy" }, 0, 1000).kind, "healthy");
        assert.deepEqual(readGate(base, 500, 1000), { kind: "waiting", why: "health: starting" });
        assert.deepEqual(readGate(base, 1000, 1000), { kind: "failed", why: "did not become healthy within 1 s (health: starting)" });
    });

    it("a restart, a restarting or exited container, an unhealthy one, one without a healthcheck, a vanished one: failed, each with its reason", () => {
        assert.match((readGate({ ...base, restartCount: 1, exitCode: 1 }, 0, 1000) as { why: string }).why, /^crashed, restarted 1 time\(s\) by its restart policy$/);
        assert.match((readGate({ ...base, running: false, restarting: true, exitCode: 137 }, 0, 1000) as { why: string }).why, /crashed \(exit code 137\)/);
        assert.match((readGate({ ...base, running: false, exitCode: 0 }, 0, 1000) as { why: string }).why, /exited \(code 0\) instead of serving/);
        assert.match((readGate({ ...base, health: "unhealthy" }, 0, 1000) as { why: string }).why, /unhealthy/);
        assert.match((readGate({ ...base, health: undefined }, 0, 1000) as { why: string }).why, /no healthcheck/);
        assert.match((readGate(undefined, 0, 1000) as { why: string }).why, /is gone/);
    });
});

describe("what the release reads from the proxy and its environment", () => {
    it("the final status of wget -S (GNU and busybox forms), and none when nothing answered", () => {
        assert.equal(statusFromWget("  HTTP/1.1 301 Moved\n  Location: /x\n  HTTP/1.1 200 OK\n"), 200);
        assert.equal(statusFromWget("Connecting to 127.0.0.1:8081\n  HTTP/1.1 500 Internal Server Error\nwget: server returned error: HTTP/1.1 500 Internal Server Error\n"), 500);
        assert.equal(statusFromWget("wget: can't connect to remote host (127.0.0.1): Connection refused"), undefined);
    });

    it("one smoke round trip: each URL's status from its own wget report, a refused one with wget's reason, a cut-off exec as no answer", () => {
        const out = [
            "  HTTP/1.1 200 OK",
            "  Content-Type: text/html",
            "--cartie-smoke-exit 0",
            "wget: can't connect to remote host (127.0.0.1): Connection refused",
            "--cartie-smoke-exit 1",
            "  HTTP/1.1 500 Internal Server Error",
            "wget: server returned error: HTTP/1.1 500 Internal Server Error",
            "--cartie-smoke-exit 1",
            "",
        ].join("\n");
        const [ok, refused, failing, missing] = smokeResults(out, 4, "Error: No such container: p-proxy");
        assert.deepEqual(ok, { status: 200, detail: "status 200" });
        assert.deepEqual(refused, { detail: "wget: can't connect to remote host (127.0.0.1): Connection refused" });
        assert.equal(failing.status, 500);
        assert.deepEqual(missing, { detail: "no answer: Error: No such container: p-proxy" });
    });

    it("in-flight requests per upstream from Caddy's /reverse_proxy/upstreams; an upstream no config uses has none", () => {
        const json = JSON.stringify([{ address: "a:3000", num_requests: 2, fails: 0 }, { address: "b:8080", num_requests: 0, fails: 0 }]);
        assert.equal(inFlightFrom(json, "a:3000"), 2);
        assert.equal(inFlightFrom(json, "gone:3000"), 0);
    });

    it("a spec that is missing or malformed is a clear error; a records file that is not whole reads as the slots it has whole", () => {
        assert.throws(() => parseReleaseSpec(undefined), /CARTIE_RELEASE_SPEC is empty/);
        assert.throws(() => parseReleaseSpec("{"), /not JSON/);
        assert.throws(() => parseReleaseSpec(JSON.stringify({ proxyContainer: "p", desired: { api: "a" }, ports: { api: 1, web: 2 } })), /no desired\.web/);
        assert.throws(() => parseReleaseSpec(JSON.stringify({ proxyContainer: "p", desired: { api: "a", web: "w" }, ports: { api: 1, web: 2 } })), /no routesContainer/);
        const routes = { live: { api: "a", web: "w" }, candidate: { api: "a2", web: "w" } };
        assert.deepEqual(parseRecordsFile(recordsFile(routes)), routes);
        assert.deepEqual(parseRecordsFile(recordsFile({ candidate: routes.candidate })), { candidate: routes.candidate });
        assert.deepEqual(parseRecordsFile('{"records":{"api.live.cartie.internal":"a"}}'), {}, "a live slot without its web is no live slot");
        assert.deepEqual(parseRecordsFile("garbage"), {});
        assert.deepEqual(parseRecordsFile(undefined), {});
    });
});

describe("waitUntilHealthy: the gate a release's containers and the db pass", () => {
    const reader = (states: Array<ContainerState | undefined>, logs = "db: FATAL: could not open file\n") => {
        let t = 0;
        return {
            inspect: () => Promise.resolve(states.length > 1 ? states.shift() : states[0]),
            logTail: () => Promise.resolve(logs),
            now: () => t,
            sleep: (ms: number) => Promise.resolve(void (t += ms)),
        };
    };

    it("passes once Docker says healthy", async () => {
        assert.equal(await waitUntilHealthy(reader([base, base, { ...base, health: "healthy" }]), "c", "db", 10_000), undefined);
    });

    it("an unhealthy container fails at once, naming what it is, its probe output and its last log lines", async () => {
        const failure = await waitUntilHealthy(reader([{ ...base, name: "cartie-dev-db", health: "unhealthy", probes: ["/var/run/postgresql:5432 - no response"] }]), "cartie-dev-db", "db", 10_000);
        assert.match(failure ?? "", /^db container cartie-dev-db is unhealthy: its healthcheck failed\n {2}health output: \/var\/run\/postgresql:5432 - no response\n {2}last log lines:\n {4}db: FATAL: could not open file$/);
    });

    it("one that stays starting fails at the timeout, not before", async () => {
        const failure = await waitUntilHealthy(reader([base]), "c", "db", 3000);
        assert.match(failure ?? "", /did not become healthy within 3 s \(health: starting\)/);
    });
});
