/**
 * Releases without a Caddy config load (issue 22), on the real engine: five `pulumi up` in a row
 * (an api release, a web release, both at once, a bad api release, the fix) while three kinds of
 * client run through the proxy on 127.0.0.1 at once, none of which ever sends a request again:
 *
 *   - keep-alive: 4 clients, each on one reused connection, no pause between requests;
 *   - new connection: 3 clients opening a connection per request (`curl` in a loop, a webhook sender);
 *   - slow: a 20 s upload (POST /api/echo, its body trickled) and a 20 s download (GET /api/stream),
 *     started as soon as the release's new container exists, so both span its switch.
 *
 * Every request of every client must succeed, and none that starts after the switch may be
 * answered by a container that is not the desired release (each answer names its release in
 * `x-cartie-release`, api and web alike). The Release step must not load a config into Caddy.
 * The figures (requests per second, healthy → first request served by the new release) are printed.
 */
import { strict as assert } from "node:assert";
import { LoadLoop, LoadReport, LoadSample, neverRetryingClients } from "../support/load";
import { EngineFailed, EngineStack } from "../support/engineStack";
import { Cleanup, sleep } from "../support/run";

interface ReleaseSummary {
    switched: string[];
    healthyAt?: number;
    switchedAt?: number;
    servingAt?: number;
    configReloaded: boolean;
    configReason?: string;
}

interface Tags {
    api: string;
    web: string;
}

/** The samples that got no answer or a non-2xx one: what a user would have seen as an error. */
const bad = (r: LoadReport): LoadSample[] => r.samples.filter((x) => x.status === undefined || x.status < 200 || x.status > 299);
const roleOf = (x: LoadSample): "api" | "web" => (x.path.startsWith("/api") ? "api" : "web");

describe("real engine: releases switch with no config load, and no client loses a request (issue 22)", function () {
    const cleanup = new Cleanup();
    let s: EngineStack;
    let dockerfile: string;
    let tags: Tags;
    const figures: string[] = [];

    const tagsNow = async (): Promise<Tags> => {
        const o = await s.outputs();
        return { api: String(o.apiImage).split(":")[1], web: String(o.webImage).split(":")[1] };
    };
    const summaryNow = async (): Promise<ReleaseSummary> => JSON.parse(String((await s.outputs()).release)) as ReleaseSummary;

    before(async function () {
        s = await EngineStack.create(cleanup, { config: { "cartie:releaseHealthTimeout": "60" } });
        dockerfile = s.readAppFile("apps/api/Dockerfile");
        s.bumpApi("r0");
        await s.up();
        tags = await tagsNow();
        const first = await summaryNow();
        assert.equal(first.configReloaded, true, "a new proxy starts on its bootstrap config: the first release loads the routed one");
        assert.match(first.configReason ?? "", /bootstrap config/);
    });

    after(async () => {
        for (const f of figures) console.log(`      ${f}`);
        await cleanup.run();
    });

    /**
     * Runs one change through `pulumi up` under the three kinds of client. `watch` is the role whose
     * new container starts the slow requests (so they span its switch). Resolves with the reports
     * and, when the update failed, its error.
     */
    async function underLoad(change: () => Promise<void>, watch: "api" | "web"): Promise<{ keepAlive: LoadReport; fresh: LoadReport; slow: LoadReport; failed?: EngineFailed; startedAt: number; endedAt: number }> {
        const before = new Set(await s.hostContainers(watch));
        const { keepAlive, fresh } = neverRetryingClients(s.baseUrl);
        const slow = new LoadLoop({ baseUrl: s.baseUrl, clients: 0, retryResetOnce: false, maxDurationMs: 600_000 });
        const startedAt = Date.now();
        keepAlive.start();
        fresh.start();
        slow.start();
        let done = false;
        const slowOnes: Array<Promise<LoadSample>> = [];
        const watcher = (async () => {
            while (!done) {
                if ((await s.hostContainers(watch)).some((c) => !before.has(c))) {
                    slowOnes.push(slow.slowRequest(20_000), slow.slowResponse(20_000));
                    return;
                }
                await sleep(200);
            }
        })();
        await sleep(500);
        let failed: EngineFailed | undefined;
        await change().catch((err: unknown) => {
            if (!(err instanceof EngineFailed)) throw err;
            failed = err;
        });
        done = true;
        await watcher;
        await Promise.all(slowOnes);
        await sleep(500);
        const endedAt = Date.now();
        return { keepAlive: await keepAlive.stop(), fresh: await fresh.stop(), slow: await slow.stop(), failed, startedAt, endedAt };
    }

    /** Every client lost nothing, and after `servingAt` only `expected` answered. */
    function check(label: string, run: Awaited<ReturnType<typeof underLoad>>, expected: Tags, servingAt: number | undefined, healthyAt?: number): void {
        const all = [...run.keepAlive.samples, ...run.fresh.samples, ...run.slow.samples];
        const seconds = (run.endedAt - run.startedAt) / 1000;
        const rate = Math.round((run.keepAlive.requests + run.fresh.requests) / seconds);
        const firstNew = run.keepAlive.samples.filter((x) => x.status !== undefined && roleOf(x) === "api" && x.release === expected.api).sort((a, b) => a.endedAt - b.endedAt)[0];
        const switchMs = healthyAt !== undefined && firstNew ? firstNew.endedAt - healthyAt : undefined;
        figures.push(
            `${label}: ${rate} req/s over ${seconds.toFixed(1)} s; keep-alive ${run.keepAlive.requests} (${bad(run.keepAlive).length} failed), new connection ${run.fresh.requests} (${bad(run.fresh).length} failed), slow ${run.slow.requests} (${bad(run.slow).length} failed)` +
                (switchMs !== undefined ? `; new api healthy → first request it served ${switchMs} ms` : ""),
        );
        for (const [kind, r] of [["keep-alive, no retry", run.keepAlive], ["new connection per request, no retry", run.fresh], ["slow upload and download", run.slow]] as const) {
            assert.deepEqual(bad(r).slice(0, 5), [], `${label}: ${kind}: ${bad(r).length} of ${r.requests} requests failed`);
        }
        assert.ok(run.keepAlive.requests > 1000 && run.fresh.requests > 500, `${label}: the clients hardly ran (${run.keepAlive.requests}, ${run.fresh.requests})`);
        assert.equal(run.slow.slow.length, 2, `${label}: the slow requests never started`);
        for (const x of run.slow.slow) assert.ok(x.endedAt - x.startedAt >= 19_000, `${label}: a slow request did not run its 20 s: ${JSON.stringify(x)}`);
        const stray = all.filter((x) => servingAt !== undefined && x.startedAt >= servingAt && x.status !== undefined && x.release !== expected[roleOf(x)]);
        assert.deepEqual(stray.slice(0, 5), [], `${label}: ${stray.length} request(s) started after the switch were answered by a release that is not the desired one (${JSON.stringify(expected)})`);
    }

    /** A good api release (a change in the api's folder) under load: switched, no config load, checked. */
    async function goodApiRelease(label: string, title: string): Promise<{ run: Awaited<ReturnType<typeof underLoad>>; summary: ReleaseSummary }> {
        const run = await underLoad(async () => {
            s.bumpApi(label);
            await s.up();
        }, "api");
        tags = await tagsNow();
        const summary = await summaryNow();
        assert.deepEqual(summary.switched, ["api"]);
        assert.equal(summary.configReloaded, false, `the release loaded a config: ${summary.configReason}`);
        check(title, run, tags, summary.servingAt, summary.healthyAt);
        return { run, summary };
    }

    it("1. an api release: nothing lost by any client, no config load, only the new api answers after the switch, the slow requests finish where they started", async () => {
        const previous = tags;
        const { run, summary } = await goodApiRelease("r1", "api release");
        for (const x of run.slow.slow) {
            assert.equal(x.release, previous.api, "a slow request that started on the old api must finish there");
            assert.ok(summary.switchedAt !== undefined && x.startedAt < summary.switchedAt && x.endedAt > summary.switchedAt, `a slow request did not span the switch: ${JSON.stringify({ slow: x, switchedAt: summary.switchedAt })}`);
        }
    });

    it("2. a web release (a new VITE_API_BASE_URL): nothing lost, no config load, only the new web answers after the switch", async () => {
        const run = await underLoad(() => s.setConfig({ "cartie:apiBaseUrl": "https://cartie.example.org/api" }).then(() => s.up().then(() => undefined)), "web");
        const previous = tags;
        tags = await tagsNow();
        assert.notEqual(tags.web, previous.web);
        const summary = await summaryNow();
        assert.deepEqual(summary.switched, ["web"]);
        assert.equal(summary.configReloaded, false, `the release loaded a config: ${summary.configReason}`);
        check("web release", run, tags, summary.servingAt, undefined);
    });

    it("3. api and web in one release: nothing lost, no config load, both switch", async () => {
        const run = await underLoad(async () => {
            s.bumpApi("r3");
            await s.setConfig({ "cartie:apiBaseUrl": "https://www.cartie.example.org/api" });
            await s.up();
        }, "api");
        tags = await tagsNow();
        const summary = await summaryNow();
        assert.deepEqual(summary.switched, ["api", "web"]);
        assert.equal(summary.configReloaded, false, `the release loaded a config: ${summary.configReason}`);
        check("api + web release", run, tags, summary.servingAt, summary.healthyAt);
    });

    it("4. a bad api release (crashes after boot): pulumi up fails, nothing lost, every answer from the release that was serving", async () => {
        s.writeAppFile("apps/api/Dockerfile", `${dockerfile.trimEnd()}\nCMD ["node", "-e", "console.error('cartie-api: table public.User does not exist'); setTimeout(() => process.exit(1), 1000)"]\n`);
        s.bumpApi("r4-bad");
        const run = await underLoad(() => s.up().then(() => undefined), "api");
        assert.ok(run.failed, "pulumi up did not fail on an api that crashes");
        assert.match(run.failed.text, /release refused, nothing was switched/);
        // Every answer, from the first request to the last, is the serving release's.
        check("bad api release", run, tags, run.startedAt, undefined);
    });

    it("5. the fix: nothing lost, no config load, the new api serves, no bad or old container is left", async () => {
        s.writeAppFile("apps/api/Dockerfile", dockerfile);
        await goodApiRelease("r5", "the fix");
        assert.deepEqual(await s.hostContainers("api"), [await s.containerName("api")]);
        assert.equal((await s.hostContainers("web")).length, 1);
        await s.preview({ expectNoChanges: true });
    });
});
