/**
 * Safe deploys, proven under load on real Docker, Caddy 2.6 and the sample api (Node 18):
 * the platform is taken from the program's registered inputs (evaluated under Pulumi's mock
 * runtime for each release) through the steps `pulumi up` runs, in the engine's order
 * (test/real/support/engine.ts says which order and where it is defined), while a bounded
 * keep-alive load loop (test/real/support/load.ts) sends GET /, /api/health, /api/version,
 * POST /api/echo and one slow POST spanning the switch through the proxy on 127.0.0.1.
 *
 * Releases are made as a person makes them: a change in the api's folder (a file `release.txt`
 * Docker sends but the Dockerfile does not copy, so the build is a cache hit and fast), a new
 * `apiBaseUrl` (a real web rebuild), a Caddyfile change (`cartie:accessLog`). The bad releases are
 * images built FROM the good api image with another CMD, tagged as the program names the release:
 * one that crashes a second after boot, one that never listens, one healthy inside its container
 * but answering 500 to anything else (as a host allow-list that rejects proxied requests would).
 */
import { strict as assert } from "node:assert";
import { UpFailed } from "../support/engine";
import { DeployStack, releaseSummaryOf } from "../support/deployStack";
import { LoadLoop, LoadReport, LoadSample, assertNoDrop } from "../support/load";
import { T } from "../support/program";
import { createFromInputs, waitHealthy } from "../support/containers";
import { Cleanup, docker, dockerOk, sleep } from "../support/run";
import { ProgramRun } from "../../support/mockRuntime";

/** Every answer from the api, in order of completion. */
const apiSamples = (r: LoadReport): LoadSample[] => r.samples.filter((s) => s.path.startsWith("/api") && s.status !== undefined).sort((a, b) => a.endedAt - b.endedAt);

function printReport(what: string, r: LoadReport, extra = ""): void {
    console.log(`      ${what}: ${r.summary()}${extra}`);
}

describe("real: safe deploys under load (engine order, real Docker and Caddy)", function () {
    const cleanup = new Cleanup();
    let d: DeployStack;
    let baseUrl: string;
    let stackName: string;
    const tags = (): Record<string, string> => d.tags;
    const engine = (): DeployStack["engine"] => d.engine;
    const evaluate = (label: string, config: Record<string, string> = {}): Promise<ProgramRun> => d.evaluate(label, config);
    const appContainers = (): Promise<string[]> => d.appContainers();

    const expectFailure = async (run: ProgramRun): Promise<UpFailed> => {
        const err = await d.engine.up(run).then(
            () => undefined,
            (e: unknown) => e,
        );
        assert.ok(err instanceof UpFailed, `pulumi up did not fail (${String(err)})`);
        return err;
    };

    before(async function () {
        d = await DeployStack.create(cleanup);
        baseUrl = d.baseUrl;
        stackName = d.stack;
        const first = await d.engine.up(await evaluate("v1"));
        assert.ok(first.steps.includes("create release"), first.steps.join("\n"));
        const version = (await (await fetch(`${baseUrl}/api/version`)).json()) as { release: string };
        assert.equal(version.release, d.tags.v1, "the first release does not answer through the proxy");
    });

    after(async () => {
        await cleanup.run();
    });

    it("1. a good api release v1 → v2: no failed or non-2xx request, each client switches once from v1 to v2, the old container gets SIGTERM only after it left routing, and only the new containers remain", async () => {
        const v2 = await evaluate("v2");
        const oldApi = engine().dockerName("cartie-" + stackName + "-api");
        assert.ok(oldApi);
        const load = new LoadLoop({ baseUrl, clients: 4 });
        load.start();
        await sleep(1000);
        const since = Math.floor(Date.now() / 1000) - 1;
        // The slow request starts as soon as the new api container exists: it runs on v1 through
        // the gate, the smoke check and the switch, and must be drained, not cut.
        let slow: Promise<unknown> | undefined;
        const watch = (async () => {
            for (let i = 0; i < 600 && !slow; i++) {
                if ((await appContainers()).some((c) => c.includes("-api-") && c !== oldApi)) slow = load.slowRequest(25_000);
                else await sleep(200);
            }
        })();
        const up = await engine().up(v2);
        await watch;
        await slow;
        await sleep(500);
        const report = await load.stop();
        const summary = releaseSummaryOf(up);
        const newApi = engine().dockerName(`cartie-${stackName}-api`);

        assert.deepEqual(summary.switched, ["api"]);
        assert.deepEqual(summary.retired, [oldApi]);
        assert.ok(up.steps.includes(`replace (create first) cartie-${stackName}-api`), up.steps.join("\n"));
        assert.ok(up.steps.includes(`delete replaced cartie-${stackName}-api: retained (left on the host, dropped from state)`), up.steps.join("\n"));

        for (const seen of report.releasesByClient) assert.deepEqual(seen, [tags().v1, tags().v2], "a client saw the versions switch more than once, or not at all");
        const [slowSample] = report.slow;
        assert.equal(slowSample.status, 200, `the slow request spanning the switch: ${JSON.stringify(slowSample)}`);
        assert.equal(slowSample.release, tags().v1, "the slow request started on v1 must finish there");
        assert.ok(
            summary.switchedAt && slowSample.startedAt < summary.switchedAt && slowSample.endedAt > summary.switchedAt,
            `the slow request did not span the switch: ${JSON.stringify({ slowStarted: slowSample.startedAt, healthy: summary.healthyAt, switched: summary.switchedAt, slowEnded: slowSample.endedAt })}`,
        );

        // Docker's own record: the old container was signalled only once the proxy no longer routed to it.
        const events = await dockerOk(["events", "--since", String(since), "--until", String(Math.ceil(Date.now() / 1000)), "--filter", `container=${oldApi}`, "--filter", "event=kill", "--format", "{{.TimeNano}} {{.Actor.Attributes.signal}}"]);
        const kills = events.trim().split("\n").filter(Boolean).map((l) => l.split(" "));
        assert.ok(kills.length > 0, "the old container was never signalled");
        assert.equal(kills[0][1], "15", "the old container's first signal was not SIGTERM");
        assert.ok(Number(kills[0][0]) / 1e6 >= summary.switchedAt, "the old container got SIGTERM before it left routing");

        assert.deepEqual(await appContainers(), [newApi, engine().dockerName(`cartie-${stackName}-web`)].sort());
        assertNoDrop(report);
        const firstV2 = apiSamples(report).find((s) => s.release === tags().v2);
        const switchMs = firstV2 && summary.healthyAt ? firstV2.endedAt - summary.healthyAt : NaN;
        printReport("v1 → v2", report, `; new api healthy → first request it served: ${switchMs} ms (gate → switch loaded: ${(summary.switchedAt ?? 0) - (summary.healthyAt ?? 0)} ms)`);
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
        it(`2. an api release that ${what}: pulumi up fails naming it, its health output and logs; no failed request, every answer from v2; the same release again fails again`, async () => {
            const label = `bad-${what.split(" ")[0]}-${what.length}`;
            // A short gate for the release that never becomes healthy, so the test does not wait 120 s twice.
            const run = await evaluate(label, what.startsWith("never") ? { "cartie:releaseHealthTimeout": "20" } : {});
            d.derived.set(String(run.one(T.image, "api-image").inputs.imageName), `FROM ${await liveImage()}\n${cmd}\n`);
            const load = new LoadLoop({ baseUrl, clients: 4 });
            load.start();
            await sleep(500);
            const first = await expectFailure(run);
            const second = await expectFailure(run);
            await sleep(500);
            const report = await load.stop();

            for (const [n, err] of [["first", first], ["second", second]] as const) {
                assert.equal(err.resource, "release", `${n} run failed at ${err.resource}: ${err.message}`);
                assert.match(err.detail, why, `${n} run: ${err.detail}`);
                assert.match(err.detail, new RegExp(`cartie-${stackName}-api-[0-9a-f]{7}`), `${n} run does not name the container`);
                assert.match(err.detail, /health output: /);
                assert.match(err.detail, /keeps serving every request/);
            }
            if (what.startsWith("crashes")) assert.match(first.detail, /P2021: The table public\.User does not exist/, "the last log lines are missing");
            assertNoDrop(report);
            const answers = apiSamples(report);
            assert.ok(answers.length > 0);
            for (const s of answers) assert.equal(s.release, tags().v2, `an /api answer came from ${s.release}, not v2`);
            // the bad container was removed; the live one is untouched
            const left = await appContainers();
            assert.equal(left.length, 2, `containers left: ${left.join(", ")}`);
            printReport(`bad release (${what}), twice`, report);
        });
    }

    /** The image the live api container runs (v2's), to derive bad releases from. */
    async function liveImage(): Promise<string> {
        const live = (await appContainers()).find((c) => c.includes("-api-"));
        return (await dockerOk(["inspect", "--format", "{{.Config.Image}}", live ?? ""])).trim();
    }

    it("3. a recovery release v3 after the bad ones: no failed request, and no bad or old container left", async () => {
        const v3 = await evaluate("v3");
        const load = new LoadLoop({ baseUrl, clients: 4 });
        load.start();
        await sleep(500);
        const up = await engine().up(v3);
        await sleep(500);
        const report = await load.stop();
        assertNoDrop(report);
        assert.deepEqual(releaseSummaryOf(up).switched, ["api"]);
        for (const seen of report.releasesByClient) assert.deepEqual(seen, [tags().v2, tags().v3]);
        assert.deepEqual(await appContainers(), [engine().dockerName(`cartie-${stackName}-api`), engine().dockerName(`cartie-${stackName}-web`)].sort());
        assert.deepEqual(engine().pendingDeletions(), []);
        printReport("recovery v3", report);
    });

    it("4. a web release with a new VITE_API_BASE_URL, then a Caddyfile change: no failed request; the proxy container is never replaced", async () => {
        const proxyBefore = (await dockerOk(["inspect", "--format", "{{.Id}} {{.State.StartedAt}}", `cartie-${stackName}-proxy`])).trim();
        const webBefore = engine().dockerName(`cartie-${stackName}-web`);
        const web = await evaluate("v3", { "cartie:apiBaseUrl": "https://cartie.example.org/api" });
        const load = new LoadLoop({ baseUrl, clients: 4 });
        load.start();
        await sleep(500);
        const upWeb = await engine().up(web);
        const logged = await evaluate("v3", { "cartie:apiBaseUrl": "https://cartie.example.org/api", "cartie:accessLog": "true" });
        const upLog = await engine().up(logged);
        await sleep(500);
        const report = await load.stop();
        assertNoDrop(report);
        assert.deepEqual(releaseSummaryOf(upWeb).switched, ["web"]);
        assert.notEqual(engine().dockerName(`cartie-${stackName}-web`), webBefore);
        const bundle = await (await fetch(`${baseUrl}/`)).text();
        assert.ok(bundle.length > 0);
        // the Caddyfile change: the release reloaded the proxy in place and changed no container
        assert.deepEqual(upLog.steps, ["update release"]);
        assert.equal((await dockerOk(["inspect", "--format", "{{.Id}} {{.State.StartedAt}}", `cartie-${stackName}-proxy`])).trim(), proxyBefore, "the proxy container was replaced or restarted");
        const accessLog = await docker(["logs", "--since", "30s", `cartie-${stackName}-proxy`]);
        assert.match(`${accessLog.stdout}${accessLog.stderr}`, /"uri":"\/api\/(version|health|echo)"/, "the access log the reload turned on shows no request");
        printReport("web release + Caddyfile change", report);
    });

    it("5. negative control: the same load loop against the old delete-first replacement (fixed name, shared alias) sees the outage", async () => {
        const run = await evaluate("v4-delete-first", { "cartie:apiBaseUrl": "https://cartie.example.org/api", "cartie:accessLog": "true" });
        const reg = run.one(T.container, `cartie-${stackName}-api`);
        const spec = { ...(reg.inputs as unknown as Parameters<typeof createFromInputs>[0]), name: `cartie-${stackName}-api` };
        const legacy = { ...spec, networksAdvanced: [{ name: `cartie-${stackName}-net`, aliases: ["api"] }] };
        const proxy = `cartie-${stackName}-proxy`;
        const image = String(reg.inputs.image);
        await d.engine.buildImage(run.one(T.image, "api-image"));
        // Today's shape: one api container with a fixed name and the shared alias the proxy routes to.
        await createFromInputs(legacy, { image });
        await waitHealthy(legacy.name, 120_000);
        const current = await dockerOk(["exec", proxy, "cat", "/etc/caddy/Caddyfile"]);
        // The previous program's routing: a bare `reverse_proxy api:3000` to the shared alias (no retry window).
        const aliased = current.replace(/reverse_proxy cartie-\S+-api-[0-9a-f]{7}:3000 \{\n(?:\t\t\t.*\n)+\t\t\}\n/g, "reverse_proxy api:3000\n");
        assert.match(aliased, /^\t\treverse_proxy api:3000$/m, "the legacy routing was not rendered");
        await dockerOk(["exec", "-i", proxy, "sh", "-c", "cat > /etc/caddy/Caddyfile.legacy"], { input: aliased });
        await dockerOk(["exec", proxy, "caddy", "reload", "--config", "/etc/caddy/Caddyfile.legacy", "--adapter", "caddyfile"]);

        const load = new LoadLoop({ baseUrl, clients: 4 });
        load.start();
        await sleep(1000);
        // deleteBeforeReplace: the engine deletes the old container (no destroyGraceSeconds: stop with 0), then creates and waits.
        await docker(["stop", "-t", "0", legacy.name]);
        await docker(["rm", "-f", legacy.name]);
        await createFromInputs(legacy, { image });
        await waitHealthy(legacy.name, 120_000);
        await sleep(500);
        const report = await load.stop();
        await dockerOk(["exec", proxy, "caddy", "reload", "--config", "/etc/caddy/Caddyfile", "--adapter", "caddyfile"]);
        printReport("negative control (delete-first)", report);
        assert.ok(report.failures + report.non2xx > 0, `the load loop saw no outage during a delete-first replacement: ${report.summary()}`);
    });
});
