/**
 * What only the engine can show about the platform's life after a restore, on one real stack:
 * a container deleted by hand, `pulumi up --replace` of the Release (as a rename or a new parent
 * gives it a new URN) under load, two `pulumi up` at once, and tearing down with
 * `pulumi destroy --exclude-protected` then restoring with every row back.
 */
import { strict as assert } from "node:assert";
import { LoadLoop, assertNoDrop } from "../support/load";
import { countUsers, writeUsers } from "../support/db";
import { EngineFailed, EngineStack, describeChanges, namesOf } from "../support/engineStack";
import { Cleanup, docker, dockerOk, httpGet, sleep } from "../support/run";

describe("real engine: the platform's lifecycle (refresh, --replace, the lock, destroy and restore)", function () {
    const cleanup = new Cleanup();
    let s: EngineStack;

    before(async () => {
        s = await EngineStack.create(cleanup);
        await s.up();
        await writeUsers(`${s.prefix}-db`, "lifecycle", 250);
    });
    after(() => cleanup.run());

    it("a container removed by hand comes back with a plain `pulumi up` (refresh first): preview names exactly it and what routes to it", async () => {
        const web = await s.containerName("web");
        await dockerOk(["rm", "-f", web]);
        // With the web container gone the routes responder cannot resolve it: Caddy has no upstream and answers 503.
        assert.equal((await httpGet(`${s.baseUrl}/`))?.status, 503, "the proxy should answer 503 with the web gone");
        const preview = await s.preview();
        assert.deepEqual(namesOf(preview, "create"), [`${s.prefix}-web`], describeChanges(preview));
        assert.deepEqual(namesOf(preview, "update", "replace"), ["release", "verification"], describeChanges(preview));
        await s.up();
        assert.equal((await httpGet(`${s.baseUrl}/`))?.status, 200);
        assert.notEqual(await s.containerName("web"), web);
        await s.preview({ expectNoChanges: true });
    });

    it("`pulumi up --replace <the Release>`: the old Release's delete runs after the new one's create and stops no serving container; 0 failed requests with and without retries", async () => {
        const before = await s.hostContainers();
        const apiBefore = await s.containerName("api");
        const urn = await s.urn("release", "command:local:Command");
        const retrying = new LoadLoop({ baseUrl: s.baseUrl, clients: 2 });
        const strict = new LoadLoop({ baseUrl: s.baseUrl, clients: 2, retryResetOnce: false });
        retrying.start();
        strict.start();
        await sleep(1000);
        const up = await s.up({ replace: [urn] });
        await sleep(1500);
        const [r1, r2] = [await retrying.stop(), await strict.stop()];
        const release = up.changes.filter((c) => c.name === "release").map((c) => c.op);
        // The engine's own order: the new Release is created, then the old one deleted (its delete command runs).
        assert.deepEqual(release, ["create-replacement", "replace", "delete-replaced"], describeChanges(up));
        assert.deepEqual(await s.hostContainers(), before, "a container was stopped or added");
        assert.equal(await s.containerName("api"), apiBefore);
        assertNoDrop(r1);
        assertNoDrop(r2);
        assert.equal(r2.retried, 0);
        for (const p of ["/", "/api/health"]) assert.equal((await httpGet(`${s.baseUrl}${p}`))?.status, 200, `${p} after the replace`);
        console.log(`      --replace release: retrying ${r1.summary()}; never retrying ${r2.summary()}`);
    });

    it("two `pulumi up` at once: the second is refused by the stack's lock and changes nothing; the first finishes and nothing is left half-done", async () => {
        s.bumpApi("lock-1");
        const first = s.up();
        // The first holds the lock once its engine has started.
        await sleep(4000);
        const second = await s.up().then(
            () => undefined,
            (err: unknown) => err,
        );
        assert.ok(second instanceof EngineFailed, `the second up was not refused: ${String(second)}`);
        assert.match(second.text, /the stack is currently locked by 1 lock\(s\)/);
        assert.deepEqual(second.run.changes, [], "the refused update changed something");
        const done = await first;
        assert.deepEqual(namesOf(done, "replace"), [`${s.prefix}-api`, "migration-image", "verification"].sort(), describeChanges(done));
        await s.preview({ expectNoChanges: true });
        assert.equal((await s.hostContainers("api")).length, 1);
    });

    it("`pulumi destroy --exclude-protected` stops every container and keeps the data, db-secrets volumes; `pulumi up` afterwards brings every row back", async () => {
        const destroy = await s.destroy({ excludeProtected: true });
        assert.ok(namesOf(destroy, "delete").includes("db"), describeChanges(destroy));
        assert.deepEqual(await s.hostContainers(), [], "containers of the stack are left on the host");
        assert.equal((await docker(["network", "inspect", `${s.prefix}-net`])).code, 1, "the network is left");
        for (const v of ["db-data", "db-secrets"]) assert.equal((await docker(["volume", "inspect", `${s.prefix}-${v}`])).code, 0, `volume ${v} is gone`);
        const kept = (await s.state()).resources.filter((r) => r.type === "docker:index/volume:Volume").map((r) => r.urn.split("::").pop());
        assert.deepEqual(kept.sort(), ["db-data", "db-secrets"], "the protected volumes should stay in the state");

        const up = await s.up();
        assert.ok(namesOf(up, "create").includes("db"), describeChanges(up));
        assert.equal(await countUsers(`${s.prefix}-db`, "lifecycle"), 250, "rows were lost");
        for (const p of ["/", "/api/health"]) assert.equal((await httpGet(`${s.baseUrl}${p}`))?.status, 200, p);
        await s.preview({ expectNoChanges: true });
    });
});
