import * as assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import { createRequire } from "node:module";
import * as path from "node:path";
import * as projectPolicy from "@pulumi/policy";
import { ResourceValidationPolicy } from "@pulumi/policy";
import { TYPES } from "../../policies/util";
import { Diagnostic, PACK_DIR, PackServer } from "./analyzer";
import { PackCopy, copyPack } from "./packCopy";
import { PackResource, changed, find, programResources, validate } from "./support";

/** The engine's wire value for a string unknown during preview (an image id not built yet). */
const UNKNOWN_STRING = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

type UtilModule = { known<T>(read: () => T): T | undefined };
type PolicyModule = { UnknownValueError: new (...args: never[]) => Error; unknownCheckingProxy: (o: unknown) => Record<string, unknown> };

/** Every container's image unknown, as in a preview that rebuilds the images. */
function imagesUnknown(resources: PackResource[]): PackResource[] {
    return resources.map((r) => (r.type === TYPES.container ? changed(r, (c) => (c.wire.image = UNKNOWN_STRING)) : r));
}

const load = createRequire(__filename);

describe("the pack in both layouts, through @pulumi/policy's analyzer server", function () {
    this.timeout(30000);
    let resources: PackResource[];
    before(async () => {
        ({ resources } = await programResources());
    });

    for (const ownModules of [false, true]) {
        describe(`the pack ${ownModules ? "with its own node_modules (after `npm install` in policies/)" : "without its own node_modules"}`, function () {
            this.timeout(30000);
            let copy: PackCopy;
            let pack: PackServer | undefined;

            before(async () => {
                copy = copyPack({ ownModules });
                pack = await PackServer.start(copy.packDir);
            });

            after(() => {
                pack?.stop();
                copy?.remove();
            });

            it(`resolves @pulumi/policy from ${ownModules ? "the pack's own folder: a second copy" : "the project: one copy"}`, () => {
                const fromPack = fs.realpathSync(load.resolve("@pulumi/policy", { paths: [copy.packDir] }));
                const fromProject = fs.realpathSync(load.resolve("@pulumi/policy"));
                if (ownModules) assert.ok(copy.ownModules && fromPack.startsWith(fs.realpathSync(copy.ownModules)), fromPack);
                else assert.equal(fromPack, fromProject);
            });

            it("analyzes a preview with unknown images: no violation, no error", async () => {
                assert.ok(pack);
                const diags: Diagnostic[] = (await Promise.all(imagesUnknown(resources).map((r) => pack!.analyze(r)))).flat();
                assert.deepEqual(diags, [], diags.map((d) => `${d.policy}: ${d.message}`).join("\n"));
            });

            it("still stops a violation (a published db port) next to the unknown values", async () => {
                assert.ok(pack);
                const db = changed(find(imagesUnknown(resources), TYPES.container, "db"), (r) => (r.wire.ports = [{ internal: 5432, external: 5432, ip: "0.0.0.0", protocol: "tcp" }]));
                const diags = await pack.analyze(db);
                assert.deepEqual(
                    diags.map((d) => [d.policy, d.level]),
                    [["only-the-proxy-is-public", "mandatory"]],
                );
            });

            if (ownModules) {
                it("recognises the other copy's unknown-value error in both directions (the unit suite's proxy and the pack's rules)", () => {
                    const packPolicy = load(load.resolve("@pulumi/policy", { paths: [copy.packDir] })) as PolicyModule;
                    const packUtil = load(path.join(copy.packDir, "util.ts")) as UtilModule;
                    const projectUtil = load(path.join(PACK_DIR, "util.ts")) as UtilModule;
                    const projectProxy = (projectPolicy as unknown as PolicyModule).unknownCheckingProxy;
                    // The layout of the bug: two classes, so `instanceof` alone cannot work across them.
                    assert.notEqual(packPolicy.UnknownValueError, projectPolicy.UnknownValueError);
                    const fromProject = projectProxy({ image: UNKNOWN_STRING });
                    const fromPack = packPolicy.unknownCheckingProxy({ image: UNKNOWN_STRING });
                    assert.throws(() => fromProject.image, (e) => !(e instanceof packPolicy.UnknownValueError));
                    assert.equal(packUtil.known(() => fromProject.image), undefined);
                    assert.equal(projectUtil.known(() => fromPack.image), undefined);
                    // Anything else still propagates.
                    assert.throws(() => packUtil.known(() => JSON.parse("{") as unknown), SyntaxError);
                });

                it("runs the copy's rules under the unit suite's proxy with an unknown image", async () => {
                    const { policies } = load(path.join(copy.packDir, "rules.ts")) as { policies: ResourceValidationPolicy[] };
                    const db = changed(find(resources, TYPES.container, "db"), (r) => (r.wire.image = UNKNOWN_STRING));
                    for (const p of policies) assert.deepEqual(await validate(p, db), [], p.name);
                });
            }
        });
    }
});

describe("git ignores what `npm install` in policies/ leaves", () => {
    it("policies/node_modules and policies/package-lock.json", function () {
        const repo = path.resolve(PACK_DIR, "..");
        // A copy of the project without its .git (an unpacked archive) has nothing to ignore.
        if (spawnSync("git", ["rev-parse", "--is-inside-work-tree"], { cwd: repo }).status !== 0) this.skip();
        const out = execFileSync("git", ["check-ignore", "--no-index", "policies/node_modules/@pulumi/policy/index.js", "policies/package-lock.json"], { cwd: repo, encoding: "utf8" });
        assert.deepEqual(out.trim().split("\n"), ["policies/node_modules/@pulumi/policy/index.js", "policies/package-lock.json"]);
    });
});
