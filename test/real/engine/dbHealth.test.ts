/**
 * A db that never becomes healthy, on the real engine: `cartie:postgresImage` set by mistake to an
 * image whose container runs but never answers `pg_isready`. Every `pulumi up` fails naming the db
 * and its health, none accepts it later as if it were fine, and once the config is set back one
 * `pulumi up` converges with every row kept: no step waits for a db that only the same update can
 * make healthy.
 */
import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { countUsers, writeUsers } from "../support/db";
import { EngineFailed, EngineStack, describeChanges, namesOf } from "../support/engineStack";
import { platformPostgresImage } from "../support/sample";
import { Cleanup, dockerOk, httpGet } from "../support/run";

/** Runs, never listens: Postgres's entrypoint execs the command it is given instead of the server. */
const NEVER_READY = "cartie-real-cache/postgres-never-ready:15";

async function neverReadyImage(): Promise<string> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cartie-never-ready-"));
    try {
        fs.writeFileSync(path.join(dir, "Dockerfile"), `FROM ${await platformPostgresImage()}\nCMD ["sleep", "infinity"]\n`);
        await dockerOk(["build", "-q", "-t", NEVER_READY, dir]);
    } finally {
        fs.rmSync(dir, { recursive: true, force: true });
    }
    return NEVER_READY;
}

describe("real engine: a db that never becomes healthy fails every up, naming it; fixed, one up converges", function () {
    const cleanup = new Cleanup();
    let s: EngineStack;
    let good: string;

    before(async () => {
        good = await platformPostgresImage();
        s = await EngineStack.create(cleanup);
        await s.up();
        await writeUsers(`${s.prefix}-db`, "dbhealth", 120);
        await s.setConfig({ "cartie:postgresImage": await neverReadyImage() });
    });
    after(() => cleanup.run());

    const expectDbFailure = async (which: string): Promise<EngineFailed> => {
        const err = await s.up().then(
            () => undefined,
            (e: unknown) => e,
        );
        assert.ok(err instanceof EngineFailed, `${which} up did not fail: ${String(err)}`);
        const gate = err.run.failures.find((f) => f.name === "db-ready");
        assert.ok(gate, `${which} up failed elsewhere than at the db's health gate:\n${err.text.slice(0, 3000)}`);
        assert.match(err.text, new RegExp(`db container ${s.prefix}-db (is unhealthy|did not become healthy)`), `${which} up does not name the db and its health`);
        assert.match(err.text, /health output: /);
        // Nothing that needs the database ran (deleting the replaced migration step first is the engine's delete-before-replace order: it runs nothing).
        const ran = err.run.changes.filter((c) => ["migration", "db-password", `${s.prefix}-api`, "release"].includes(c.name) && ["create", "create-replacement", "update"].includes(c.op));
        assert.deepEqual(ran, [], `${which} up went past the db:\n${describeChanges(err.run)}`);
        return err;
    };

    it("the first `pulumi up` replaces the db (delete-first, same volume) and fails at its health gate, naming the db and its health", async () => {
        const err = await expectDbFailure("the first");
        assert.ok(err.run.changes.some((c) => c.name === "db" && (c.op === "replace" || c.op === "delete-replaced" || c.op === "create-replacement")), describeChanges(err.run));
    });

    it("the second `pulumi up` with the same config fails the same way (the unhealthy db is not accepted)", async () => {
        await expectDbFailure("the second");
    });

    it("with the image set back, one `pulumi up` converges: the db replaced on its volume, every row there, nothing left to change", async () => {
        await s.setConfig({ "cartie:postgresImage": good });
        const up = await s.up();
        assert.ok(namesOf(up, "replace").includes("db"), describeChanges(up));
        assert.equal(await countUsers(`${s.prefix}-db`, "dbhealth"), 120, "rows were lost");
        for (const p of ["/", "/api/health"]) assert.equal((await httpGet(`${s.baseUrl}${p}`))?.status, 200, p);
        await s.preview({ expectNoChanges: true });
    });
});
