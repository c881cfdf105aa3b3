/**
 * Safe deploys on the real engine: one stack of the program, released by `pulumi up` after each
 * change a person makes, on real Docker, Caddy 2.6 and the sample api (Node 18), while a bounded
 * load loop (test/real/support/load.ts) sends GET /, /api/health, /api/version, POST /api/echo and
 * one slow POST spanning the switch through the proxy on 127.0.0.1.
 *
 * Releases are made as a person makes them: a change in the api's folder (`release.txt`, which
 * Docker sends but the Dockerfile does not copy, so the build is a layer-cache hit), a new
 * `apiBaseUrl` (a real web rebuild), a Caddyfile change (`cartie:accessLog`). The bad releases are
 * commits that break the api: its Dockerfile ends with another CMD — one that crashes a second after
 * boot, one that never listens, one healthy inside its container but answering 500 to anything else
 * (as a host allow-list that rejects proxied requests would).
 */
import { strict as assert } from "node:assert";
import Docker from "dockerode";
import { LoadLoop, LoadReport, LoadSample, assertNoDrop } from "../support/load";
import { EngineFailed, EngineRun, EngineStack, describeChanges } from "../support/engineStack";
import { Cleanup, docker, dockerOk, sleep } from "../support/run";

/** What the Release step prints (the stack output `release`). */
interface ReleaseSummary {
    switched: string[];
    live: { api: string; web: string };
    retired: string[];
    healthyAt?: number;
    switchedAt?: number;
    configReloaded: boolean;
    configReason?: string;
}

/** Every answer from the api, in order of completion. */
const apiSamples = (r: LoadReport): LoadSample[] => r.samples.filter((s) => s.path.startsWith("/api") && s.status !== undefined).sort((a, b) => a.endedAt - b.endedAt);

function printReport(what: string, r: LoadReport, extra = ""): void {
    console.log(`      ${what}: ${r.summary()}${extra}`);
}

describe("real engine: safe deploys under load (pulumi up, real Docker and Caddy)", function () {
    const cleanup = new Cleanup();
    let s: EngineStack;
    let dockerfile: string;
    /** The api's content tag (its CARTIE_RELEASE) per release label. */
    const tags: Record<string, string> = {};

    const tagNow = async (): Promise<string> => String((await s.outputs()).apiImage).split(":")[1];
    const releaseSummary = async (): Promise<ReleaseSummary> => JSON.parse(String((await s.outputs()).release)) as ReleaseSummary;
    const release = async (label: string): Promise<EngineRun> => {
        s.bumpApi(label);
        const up = await s.up();
        tags[label] = await tagNow();
        return up;
    };
    const expectFailure = async (): Promise<EngineFailed> => {
        const err = await s.up().then(
            () => undefined,
            (e: unknown) => e,
        );
        assert.ok(err instanceof EngineFailed, `pulumi up did not fail (${String(err)})`);
        return err;
    };
    /** Containers of the stack marked for deletion in the state (replaced, their delete still to run). */
    const pendingDeletions = async (): Promise<string[]> =>
        (await s.state()).resources.filter((r) => r.delete && r.type === "docker:index/container:Container").map((r) => String(r.outputs?.name));

    before(async function () {
        s = await EngineStack.create(cleanup, { config: { "cartie:releaseHealthTimeout": "120" } });
        dockerfile = s.readAppFile("apps/api/Dockerfile");
        await release("v1");
        const version = (await (await fetch(`${s.baseUrl}/api/version`)).json()) as { release: string };
        assert.equal(version.release, tags.v1, "the first release does not answer through the proxy");
    });

    after(() => cleanup.run());

    it("1. a good api release v1 → v2: no failed or non-2xx request, each client switches once, the old container gets SIGTERM only after it left routing, and only the new containers remain", async () => {
        const oldApi = await s.containerName("api");
        const load = new LoadLoop({ baseUrl: s.baseUrl, clients: 4 });
        const strict = new LoadLoop({ baseUrl: s.baseUrl, clients: 2, retryResetOnce: false });
        load.start();
        strict.start();
        await sleep(1000);
        const since = Math.floor(Date.now() / 1000) - 1;
        // The slow request starts as soon as the new api container exists: it runs on v1 through
        // the gate, the smoke check and the switch, and must be drained, not cut.
        let slow: Promise<unknown> | undefined;
        let upDone = false;
        const watch = (async () => {
            while (!slow && !upDone) {
                if ((await s.hostContainers("api")).some((c) => c !== oldApi)) slow = load.slowRequest(25_000);
                else await sleep(200);
            }
        })();
        const up = await release("v2").finally(() => (upDone = true));
        await watch;
        await slow;
        await sleep(500);
        const [report, strictReport] = [await load.stop(), await strict.stop()];
        const summary = await releaseSummary();
        const newApi = await s.containerName("api");

        assert.deepEqual(summary.switched, ["api"]);
        assert.deepEqual(summary.retired, [oldApi]);
        const apiOps = up.steps.filter((c) => c.name === `${s.prefix}-api`).map((c) => c.op);
        // The engine's order for create-before-delete: the new container first, the old one's delete at the end.
        assert.deepEqual(apiOps.filter((op) => op !== "same" && op !== "refresh"), ["create-replacement", "replace", "delete-replaced"], describeChanges(up));
        const order = up.steps.map((c) => `${c.op} ${c.name}`);
        assert.ok(order.indexOf(`delete-replaced ${s.prefix}-api`) > order.indexOf("update release"), `the old api was deleted before the release switched:\n${order.join("\n")}`);

        for (const seen of report.releasesByClient) assert.deepEqual(seen, [tags.v1, tags.v2], "a client saw the versions switch more than once, or not at all");
        const [slowSample] = report.slow;
        assert.ok(slowSample, "the slow request never started");
        assert.equal(slowSample.status, 200, `the slow request spanning the switch: ${JSON.stringify(slowSample)}`);
        assert.equal(slowSample.release, tags.v1, "the slow request started on v1 must finish there");
        assert.ok(
            summary.switchedAt && slowSample.startedAt < summary.switchedAt && slowSample.endedAt > summary.switchedAt,
            `the slow request did not span the switch: ${JSON.stringify({ slowStarted: slowSample.startedAt, healthy: summary.healthyAt, switched: summary.switchedAt, slowEnded: slowSample.endedAt })}`,
        );

        // Docker's own record: the old container was signalled only once the proxy no longer routed to it.
        const events = await dockerOk(["events", "--since", String(since), "--until", String(Math.ceil(Date.now() / 1000)), "--filter", `container=${oldApi}`, "--filter", "event=kill", "--format", "{{.TimeNano}} {{.Actor.Attributes.signal}}"]);
        const kills = events.trim().split("\n").filter(Boolean).map((l) => l.split(" "));
        assert.ok(kills.length > 0, "the old container was never signalled");
        assert.equal(kills[0][1], "15", "the old container's first signal was not SIGTERM");
        assert.ok(Number(kills[0][0]) / 1e6 >= (summary.switchedAt ?? Infinity), "the old container got SIGTERM before it left routing");

        assert.deepEqual(await s.hostContainers(), [newApi, await s.containerName("db"), await s.containerName("proxy"), await s.containerName("routes"), await s.containerName("web")].sort());
        assert.deepEqual(await pendingDeletions(), [], "the engine left the old container marked for deletion");
        assertNoDrop(report);
        // Clients that never resend: the switch is a records write, so no connection is reset (issue 22).
        assertNoDrop(strictReport);
        assert.equal(strictReport.retried, 0);
        const firstV2 = apiSamples(report).find((x) => x.release === tags.v2);
        const switchMs = firstV2 && summary.healthyAt ? firstV2.endedAt - summary.healthyAt : NaN;
        printReport("v1 → v2", report, `; new api healthy → first request it served: ${switchMs} ms (gate → records switched: ${(summary.switchedAt ?? 0) - (summary.healthyAt ?? 0)} ms)`);
        printReport("v1 → v2, clients that never retry", strictReport);
    });

    const bad: Array<[string, string, RegExp]> = [
        // Crashes a second after boot, like the incident's api on a missing table.
        ["crashes at boot", `CMD ["node", "-e", "console.error('cartie-api: PrismaClientKnownRequestError P2021: The table public.User does not exist'); setTimeout(() => process.exit(1), 1000)"]`, /crashed(, | \(exit code 1\))/],
        ["never passes its healthcheck (gate 20 s)", `CMD ["node", "-e", "console.log('cartie-api: waiting for a queue that never comes'); setInterval(() => {}, 1 << 30)"]`, /did not become healthy within 20 s/],
        [
            "is healthy but answers 500 through the proxy",
            `CMD ["node", "-e", "require('http').createServer((q, s) => { const local = q.socket.remoteAddress.endsWith('127.0.0.1'); s.writeHead(local ? 200 : 500, { 'x-cartie-release': process.env.CARTIE_RELEASE }); s.end(local ? 'ok' : 'host not allowed'); }).listen(3000)"]`,
            /smoke check through the proxy failed .*GET \/api\/health through the proxy answered 500/,
        ],
    ];
    for (const [what, cmd, why] of bad) {
        it(`2. an api release that ${what}: pulumi up fails naming it, its health output and logs; no failed request, every answer from v2; the same release again fails again; the serving container stays though the engine marked it for deletion`, async () => {
            // A commit that breaks the api, and for the one that never becomes healthy a short gate, so the test does not wait 120 s twice.
            s.writeAppFile("apps/api/Dockerfile", `${dockerfile.trimEnd()}\n${cmd}\n`);
            if (what.startsWith("never")) await s.setConfig({ "cartie:releaseHealthTimeout": "20" });
            // The serving one is the only api container on the host (after a refused release the state's
            // current api is the refused container, which the Release step removed).
            const running = await s.hostContainers("api");
            assert.equal(running.length, 1, `api containers before the bad release: ${running.join(", ")}`);
            const [live] = running;
            const load = new LoadLoop({ baseUrl: s.baseUrl, clients: 4 });
            load.start();
            await sleep(500);
            const first = await expectFailure();
            const marked = await pendingDeletions();
            const second = await expectFailure();
            await sleep(500);
            const report = await load.stop();
            s.writeAppFile("apps/api/Dockerfile", dockerfile);
            if (what.startsWith("never")) await s.setConfig({ "cartie:releaseHealthTimeout": "120" });

            for (const [n, err] of [["first", first], ["second", second]] as const) {
                const failure = err.run.failures.find((f) => f.name === "release");
                assert.ok(failure, `${n} run failed elsewhere: ${err.text.slice(0, 2000)}`);
                assert.match(err.text, why, `${n} run: ${failure.message}`);
                assert.match(err.text, new RegExp(`${s.prefix}-api-[0-9a-f]{7}`), `${n} run does not name the container`);
                assert.match(err.text, /health output: /);
                assert.match(err.text, /keeps serving every request/);
            }
            if (what.startsWith("crashes")) assert.match(first.text, /P2021: The table public\.User does not exist/, "the last log lines are missing");
            // The engine marks the serving container for deletion once its replacement was created, and
            // runs that delete only at the end of an update that succeeds (pulumi/pulumi#2948): not now.
            assert.deepEqual(marked, [live], "the engine did not mark the serving container for deletion (the scenario changed)");
            assertNoDrop(report);
            const answers = apiSamples(report);
            assert.ok(answers.length > 0);
            for (const x of answers) assert.equal(x.release, tags.v2, `an /api answer came from ${x.release}, not v2`);
            // the bad container was removed; the live one is untouched
            assert.deepEqual(await s.hostContainers("api"), [live], "the serving api container changed");
            assert.equal((await s.hostContainers("web")).length, 1);
            printReport(`bad release (${what}), twice`, report);
        });
    }

    it("3. a recovery release v3 after the bad ones: no failed request; the pending deletion runs at its end and finds the container already retired; no bad or old container left", async () => {
        const load = new LoadLoop({ baseUrl: s.baseUrl, clients: 4 });
        load.start();
        await sleep(500);
        const up = await release("v3");
        await sleep(500);
        const report = await load.stop();
        assertNoDrop(report);
        assert.deepEqual((await releaseSummary()).switched, ["api"]);
        for (const seen of report.releasesByClient) assert.deepEqual(seen, [tags.v2, tags.v3]);
        assert.deepEqual(await s.hostContainers("api"), [await s.containerName("api")]);
        assert.equal((await s.hostContainers("web")).length, 1);
        assert.deepEqual(await pendingDeletions(), []);
        assert.ok(up.changes.some((c) => c.op === "delete-replaced" && c.name === `${s.prefix}-api`), describeChanges(up));
        printReport("recovery v3", report);
        await s.preview({ expectNoChanges: true });
    });

    it("4. a web release with a new VITE_API_BASE_URL, then a Caddyfile change: no failed request; the proxy container is never replaced", async () => {
        const proxyBefore = (await dockerOk(["inspect", "--format", "{{.Id}} {{.State.StartedAt}}", `${s.prefix}-proxy`])).trim();
        const webBefore = await s.containerName("web");
        const load = new LoadLoop({ baseUrl: s.baseUrl, clients: 4 });
        load.start();
        await sleep(500);
        await s.setConfig({ "cartie:apiBaseUrl": "https://cartie.example.org/api" });
        await s.up();
        const webSummary = await releaseSummary();
        await s.setConfig({ "cartie:accessLog": "true" });
        // A routing change shows in preview: the Release's inputs (the Caddyfile it loads), nothing else.
        const preview = await s.preview();
        assert.deepEqual(preview.changes.map((c) => `${c.op} ${c.name}`), ["update release"], describeChanges(preview));
        const upLog = await s.up();
        const routing = await releaseSummary();
        assert.equal(routing.configReloaded, true, "a routing change did not load the new config");
        assert.match(routing.configReason ?? "", /routing changed/);
        assert.deepEqual(routing.switched, []);
        await sleep(500);
        const report = await load.stop();
        assertNoDrop(report);
        assert.deepEqual(webSummary.switched, ["web"]);
        assert.notEqual(await s.containerName("web"), webBefore);
        // the Caddyfile change: the release loaded it into the proxy in place and changed no container
        assert.deepEqual(
            upLog.changes.map((c) => `${c.op} ${c.name}`),
            ["update release"],
            describeChanges(upLog),
        );
        assert.equal((await dockerOk(["inspect", "--format", "{{.Id}} {{.State.StartedAt}}", `${s.prefix}-proxy`])).trim(), proxyBefore, "the proxy container was replaced or restarted");
        const accessLog = await docker(["logs", "--since", "30s", `${s.prefix}-proxy`]);
        assert.match(`${accessLog.stdout}${accessLog.stderr}`, /"uri":"\/api\/(version|health|echo)"/, "the access log the reload turned on shows no request");
        printReport("web release + Caddyfile change", report);
    });

    it("5. negative control: the same load loop against a delete-first replacement (fixed name, shared alias) sees the outage", async () => {
        const engine = new Docker();
        const live = await engine.getContainer(await s.containerName("api")).inspect();
        const net = `${s.prefix}-net`;
        const name = `${s.prefix}-api-legacy`;
        // Today's api, as the previous program ran it: one container with a fixed name and the shared alias the proxy routes to.
        const create = async (): Promise<void> => {
            const c = await engine.createContainer({
                name,
                Image: live.Config.Image,
                Env: live.Config.Env,
                Healthcheck: live.Config.Healthcheck,
                HostConfig: { NetworkMode: net },
                NetworkingConfig: { EndpointsConfig: { [net]: { Aliases: ["api"] } } },
            });
            await c.start();
            for (let i = 0; i < 240; i++) {
                if ((await c.inspect()).State.Health?.Status === "healthy") return;
                await sleep(500);
            }
            throw new Error(`${name} did not become healthy`);
        };
        cleanup.add(`container ${name}`, () => docker(["rm", "-f", name]));
        await create();
        const proxy = `${s.prefix}-proxy`;
        const current = await dockerOk(["exec", proxy, "cat", "/etc/caddy/Caddyfile"]);
        // The previous program's routing: a bare `reverse_proxy api:3000` to the shared alias (no retry window).
        const aliased = current.replace(/reverse_proxy \{\n\t\t\tdynamic a api\.live\.\S+ 3000 \{\n(?:\t\t\t.*\n)+\t\t\}\n/g, "reverse_proxy api:3000\n");
        assert.match(aliased, /^\t\treverse_proxy api:3000$/m, "the legacy routing was not rendered");
        await dockerOk(["exec", "-i", proxy, "sh", "-c", "cat > /etc/caddy/Caddyfile.legacy"], { input: aliased });
        await dockerOk(["exec", proxy, "caddy", "reload", "--config", "/etc/caddy/Caddyfile.legacy", "--adapter", "caddyfile"]);

        const load = new LoadLoop({ baseUrl: s.baseUrl, clients: 4 });
        load.start();
        await sleep(1000);
        // deleteBeforeReplace: the provider deletes the old container (no destroyGraceSeconds: stop with 0), then creates and waits.
        await docker(["stop", "-t", "0", name]);
        await docker(["rm", "-f", name]);
        await create();
        await sleep(500);
        const report = await load.stop();
        await dockerOk(["exec", proxy, "caddy", "reload", "--config", "/etc/caddy/Caddyfile", "--adapter", "caddyfile"]);
        await docker(["rm", "-f", name]);
        printReport("negative control (delete-first)", report);
        assert.ok(report.failures + report.non2xx > 0, `the load loop saw no outage during a delete-first replacement: ${report.summary()}`);
    });
});
