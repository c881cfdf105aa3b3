/**
 * The incident's host, reproduced on a running stack of the program and repaired by the real engine:
 * the api on a stale image (its code expects table `User`, the database has `users`: Prisma's P2021
 * on every query, so it never gets healthy; the incident's own build crash-looped on it),
 * the superadmin secret missing from config, the web container removed by hand, so the proxy answers
 * 502. `pulumi preview` first refuses the missing secret, naming it and the fix, changing nothing;
 * with the secret back it lists exactly the resources that are off; one `pulumi up` makes the host
 * healthy with every row kept, and the crash-looping container is gone.
 */
import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import Docker from "dockerode";
import { countUsers, writeUsers } from "../support/db";
import { EngineFailed, EngineStack, describeChanges } from "../support/engineStack";
import { API_DIR, BASE, buildImage, copyApp } from "../support/sample";
import { Cleanup, httpGet, sleep, waitFor } from "../support/run";

describe("real engine: the incident host (api on a stale image, missing secret, web removed, 502) is repaired by one pulumi up", function () {
    const cleanup = new Cleanup();
    let s: EngineStack;
    let stale = "";

    before(async () => {
        // The incident's api: the current code with the schema from before the model was renamed (it expects table `User`).
        const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "cartie-stale-api-"));
        cleanup.dir(tmp);
        copyApp(API_DIR, tmp);
        const schema = path.join(tmp, "prisma/schema.prisma");
        fs.writeFileSync(schema, fs.readFileSync(schema, "utf8").replace('@@map("users")', '@@map("User")'));
        stale = (await buildImage("cartie-real-cache/api-stale", tmp, { NODE_IMAGE: BASE.node }, false)).ref;

        s = await EngineStack.create(cleanup);
        await s.up();
        await writeUsers(`${s.prefix}-db`, "incident", 200);

        // The incident: a stale build runs in the api's place (same name, labels and environment) ...
        const engine = new Docker();
        const live = await engine.getContainer(await s.containerName("api")).inspect();
        await engine.getContainer(live.Id).remove({ force: true });
        const c = await engine.createContainer({
            name: live.Name.replace(/^\//, ""),
            Image: stale,
            Env: live.Config.Env,
            Labels: live.Config.Labels,
            Healthcheck: live.Config.Healthcheck,
            HostConfig: { NetworkMode: `${s.prefix}-net`, RestartPolicy: { Name: "unless-stopped" } },
        });
        await c.start();
        await waitFor(
            "the stale api failing on the missing table",
            async () => {
                const logs = await c.logs({ stdout: true, stderr: true, tail: 50 });
                return /The table `public\.User` does not exist|P2021/.test(logs.toString()) ? true : undefined;
            },
            180_000,
            1000,
        );
        // ... removed the web container by hand, and lost the superadmin's secret.
        await engine.getContainer(await s.containerName("web")).remove({ force: true });
        await s.removeConfig(["cartie:seedSuperadminPassword"]);
    });
    after(() => cleanup.run());

    /** The superadmin's login through the proxy: what a person notices first when the api runs stale code. */
    const login = async (): Promise<number> =>
        (await fetch(`${s.baseUrl}/api/auth/login`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ email: "admin@cartie.test", password: s.secrets.seedSuperadminPassword }) })).status;

    it("the host is broken as the incident's was: / fails (the incident's compose proxy said 502; ours has no upstream for a removed web and says 503) and the superadmin cannot log in (the stale api's query fails)", async () => {
        assert.equal((await httpGet(`${s.baseUrl}/`))?.status, 503);
        assert.equal(await login(), 500);
    });

    it("`pulumi preview` refuses the missing secret first, naming it and the fix, with nothing changed", async () => {
        const err = await s.preview().then(
            () => undefined,
            (e: unknown) => e,
        );
        assert.ok(err instanceof EngineFailed, "preview passed with a required secret missing");
        assert.match(err.text, /cartie:seedSuperadminPassword: missing \(a secret is required; looked in stack config and SEED_SUPERADMIN_PASSWORD\)/);
        assert.match(err.text, /fix: run `pulumi config set --secret cartie:seedSuperadminPassword/);
        assert.deepEqual(err.run.changes.filter((c) => c.op !== "refresh"), []);
    });

    it("with the secret back, `pulumi preview` lists exactly the resources that are off: the api and web to create, the release and the verification", async () => {
        await s.setSecrets({ "cartie:seedSuperadminPassword": s.secrets.seedSuperadminPassword });
        const preview = await s.preview();
        const changes = preview.changes.map((c) => `${c.op} ${c.name}`).filter((c) => !c.startsWith("create-replacement") && !c.startsWith("delete-replaced")).sort();
        assert.deepEqual(changes, [`create ${s.prefix}-api`, `create ${s.prefix}-web`, "replace verification", "update release"], describeChanges(preview));
    });

    it("one `pulumi up` makes it healthy: / and /api/health answer 200, the superadmin logs in, the stale container is retired, every row is there, nothing is left to change", async () => {
        await s.up();
        for (const p of ["/", "/api/health"]) assert.equal((await httpGet(`${s.baseUrl}${p}`))?.status, 200, p);
        assert.equal(await login(), 200, "the superadmin still cannot log in");
        const api = await s.hostContainers("api");
        assert.deepEqual(api, [await s.containerName("api")], `api containers left: ${api.join(", ")}`);
        const images = await Promise.all(api.map(async (n) => (await new Docker().getContainer(n).inspect()).Config.Image));
        assert.ok(!images.includes(stale), "the stale image still runs");
        assert.equal(await countUsers(`${s.prefix}-db`, "incident"), 200);
        await sleep(500);
        await s.preview({ expectNoChanges: true });
    });
});
