/**
 * The restore itself on the real engine: `pulumi up` of the whole platform from no containers on
 * this host's Docker (Debian's docker.io 20.10, API 1.41), then `pulumi preview --expect-no-changes`
 * and a second `up` that changes nothing. Any input the provider reads back in another form than
 * the program wrote it (a duration, a default) shows here as a perpetual diff.
 */
import { strict as assert } from "node:assert";
import { Cleanup, httpGet } from "../support/run";
import { EngineStack, describeChanges } from "../support/engineStack";

describe("real engine: restore from nothing, then nothing to change", function () {
    const cleanup = new Cleanup();
    let s: EngineStack;

    before(async () => {
        s = await EngineStack.create(cleanup);
    });
    after(() => cleanup.run());

    it("`pulumi up` from no containers converges: every resource created, / and /api/health answer 200 through the proxy", async () => {
        const up = await s.up();
        assert.ok(up.changes.length > 0 && up.changes.every((c) => c.op === "create"), describeChanges(up));
        const verification = JSON.parse(String((await s.outputs()).verification)) as { healthy: boolean };
        assert.equal(verification.healthy, true);
        for (const p of ["/", "/api/health"]) assert.equal((await httpGet(`${s.baseUrl}${p}`))?.status, 200, p);
        console.log(`      restore from no containers: ${up.changes.length} resources in ${up.ms} ms`);
    });

    it("right after it, `pulumi preview --expect-no-changes` passes", async () => {
        const preview = await s.preview({ expectNoChanges: true });
        assert.deepEqual(preview.changes, [], describeChanges(preview));
    });

    it("a second `pulumi up` changes nothing and replaces no container", async () => {
        const before = await s.hostContainers();
        const up = await s.up();
        assert.deepEqual(up.changes, [], describeChanges(up));
        assert.deepEqual(await s.hostContainers(), before);
    });
});
