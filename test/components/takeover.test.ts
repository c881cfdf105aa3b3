import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as path from "node:path";
import { platformProgram } from "../../components/program";
import { takeoverIdentityFromEnv } from "../../components/takeover";
import { LABELS } from "../../lib/docker/labels";
import { ProgramRun, TEST_SECRETS, changed, isWireSecret, makeProjectDir, runProgram, upstream, validStackConfig, TEST_DAEMON } from "../support/mockRuntime";

const COMMAND = "command:local:Command";
const CONTAINER = "docker:index/container:Container";
const LEGACY = { "cartie:legacyComposeProject": "infra2", "cartie:dataVolume": "infra2_db-data" };

const evaluate = (dir: string, config?: Record<string, string>): Promise<ProgramRun> => runProgram(() => ({ ...platformProgram(dir, { daemon: TEST_DAEMON }) }), { config });

describe("the takeover under the mock runtime", () => {
    it("is not declared when cartie:legacyComposeProject is unset", async () => {
        const run = await evaluate(makeProjectDir());
        assert.deepEqual(run.byType("cartie:platform:Takeover"), []);
        assert.deepEqual(run.byType(COMMAND).map((c) => c.name).sort(), ["db-password", "db-password-file", "db-ready", "migration", "release", "verification"]);
        assert.ok(![...upstream(run, run.one(CONTAINER, "db"))].some((n) => n.startsWith("legacy")), "the db waits for a takeover that is not there");
    });

    describe("with cartie:legacyComposeProject set", () => {
        let run: ProgramRun;
        before(async () => {
            run = await evaluate(makeProjectDir(), validStackConfig(LEGACY));
        });

        it("declares the Takeover component inside the platform with three project-module steps", () => {
            const platform = run.one("cartie:platform:CartiePlatform");
            const component = run.one("cartie:platform:Takeover", "legacy");
            assert.equal(component.parent, platform.urn);
            const steps = run.byType(COMMAND).filter((c) => c.parent === component.urn);
            assert.deepEqual(steps.map((s) => s.name).sort(), ["legacy-backup", "legacy-preflight", "legacy-takeover"]);
            for (const s of steps) {
                const step = s.name.replace("legacy-", "");
                assert.equal(s.inputs.create, `node --import tsx scripts/takeover.ts ${step}`);
                assert.equal(s.inputs.triggers, undefined, `${s.name} has triggers: it would re-run`);
                assert.equal(s.inputs.delete, undefined, `${s.name} runs something on destroy`);
                assert.deepEqual(s.additionalSecretOutputs.sort(), ["environment", "stderr", "stdout"]);
                const env = s.inputs.environment as Record<string, string>;
                assert.deepEqual(
                    { ...env, CARTIE_POSTGRES_PASSWORD: "<pw>" },
                    {
                        CARTIE_BACKUP_DIR: "backups",
                        CARTIE_DATA_VOLUME: "infra2_db-data",
                        CARTIE_LEGACY_PROJECT: "infra2",
                        CARTIE_POSTGRES_IMAGE: "postgres:15.10-bookworm",
                        CARTIE_POSTGRES_PASSWORD: "<pw>",
                        CARTIE_PUBLIC_PORT: "8082",
                    },
                );
                assert.equal(env.CARTIE_POSTGRES_PASSWORD, TEST_SECRETS.postgresPassword);
                const wireEnv = s.wire.environment;
                assert.ok(isWireSecret(wireEnv) || isWireSecret((wireEnv as Record<string, unknown>).CARTIE_POSTGRES_PASSWORD), `${s.name}: the password is plaintext in state`);
            }
            assert.ok(fs.existsSync(path.resolve(__dirname, "../..", "scripts/takeover.ts")));
        });

        it("orders preflight → backup → takeover → db volume and container → migration → api → proxy → verification", () => {
            const up = (type: string, name: string): Set<string> => upstream(run, run.one(type, name));
            assert.equal(up(COMMAND, "legacy-preflight").size, 0, "the preflight waits for nothing");
            assert.deepEqual([...up(COMMAND, "legacy-backup")], ["legacy-preflight"]);
            assert.deepEqual([...up(COMMAND, "legacy-takeover")].sort(), ["legacy-backup", "legacy-preflight"]);
            const volume = run.one("docker:index/volume:Volume", "db-data");
            assert.equal(volume.inputs.name, "infra2_db-data");
            assert.equal(volume.protect, true);
            assert.ok(upstream(run, volume).has("legacy-takeover"), "the data volume does not wait for the takeover");
            assert.ok(up("docker:index/remoteImage:RemoteImage", "db-image").has("legacy-takeover"));
            const db = up(CONTAINER, "db");
            assert.ok(db.has("legacy-takeover") && db.has("db-data"), "the db container does not wait for the takeover");
            assert.deepEqual((run.one(CONTAINER, "db").inputs.mounts as unknown[])[0], { source: "infra2_db-data", target: "/var/lib/postgresql/data", type: "volume" });
            for (const [type, name] of [
                [COMMAND, "db-password"],
                [COMMAND, "migration"],
                [CONTAINER, "cartie-dev-api"],
                [CONTAINER, "proxy"],
                [COMMAND, "release"],
                [COMMAND, "verification"],
            ]) {
                assert.ok(up(type, name).has("legacy-takeover"), `${name} does not wait for the takeover`);
            }
            // nothing of the takeover waits for the platform: it must finish first
            for (const step of ["legacy-preflight", "legacy-backup", "legacy-takeover"]) {
                for (const x of ["db", "db-data", "migration", "api", "web", "proxy"]) assert.ok(!up(COMMAND, step).has(x), `${step} waits for ${x}`);
            }
        });

        it("keeps the password out of every plaintext input", () => {
            for (const r of run.resources) {
                const plain = JSON.stringify(r.wire, (_k, v: unknown) => (isWireSecret(v) ? "<secret>" : v));
                assert.ok(!plain.includes(TEST_SECRETS.postgresPassword), `${r.name} carries the password in plaintext`);
            }
        });
    });

    describe("an adopted volume with its data in a folder and a user and database of its own", () => {
        const ADOPTED = { ...LEGACY, "cartie:pgdataSubdir": "pgdata", "cartie:dbUser": "app", "cartie:dbName": "cartie_prod" };
        let run: ProgramRun;
        before(async () => {
            run = await evaluate(makeProjectDir(), validStackConfig(ADOPTED));
        });

        it("the db container: PGDATA in the folder, the volume at the image's data directory, the folder shown in a label, healthcheck as that user", () => {
            const db = run.one(CONTAINER, "db").inputs as { envs: string[]; mounts: unknown; labels: { label: string; value: string }[]; healthcheck: { tests: string[] } };
            assert.ok(db.envs.includes("PGDATA=/var/lib/postgresql/data/pgdata"));
            assert.ok(db.envs.includes("POSTGRES_USER=app") && db.envs.includes("POSTGRES_DB=cartie_prod"));
            assert.deepEqual(db.mounts, [
                { source: "infra2_db-data", target: "/var/lib/postgresql/data", type: "volume" },
                { readOnly: true, source: "cartie-dev-db-secrets", target: "/run/cartie", type: "volume" },
            ]);
            assert.deepEqual(db.labels.find((l) => l.label === LABELS.pgdata)?.value, "/var/lib/postgresql/data/pgdata");
            assert.deepEqual(db.healthcheck.tests, ["CMD", "pg_isready", "-U", "app", "-d", "cartie_prod"]);
        });

        it("the api and the migration connect as that user to that database", () => {
            const api = run.one(CONTAINER, "cartie-dev-api").inputs as { envs: string[] };
            const apiUrl = new URL((api.envs.find((e) => e.startsWith("DATABASE_URL=")) ?? "").slice("DATABASE_URL=".length));
            assert.deepEqual([apiUrl.username, apiUrl.pathname], ["app", "/cartie_prod"]);
            // The migration and the db-password step get the identity as plain inputs (the password from the db-secrets volume / as a secret).
            for (const step of ["migration", "db-password"]) {
                const env = run.one(COMMAND, step).inputs.environment as Record<string, string>;
                assert.deepEqual([env.CARTIE_DB_USER, env.CARTIE_DB_NAME], ["app", "cartie_prod"], step);
            }
        });

        it("the takeover steps are told the folder and the identity", () => {
            const env = run.one(COMMAND, "legacy-preflight").inputs.environment as Record<string, string>;
            assert.deepEqual([env.CARTIE_PGDATA_SUBDIR, env.CARTIE_DB_USER, env.CARTIE_DB_NAME], ["pgdata", "app", "cartie_prod"]);
            assert.deepEqual(takeoverIdentityFromEnv(env), { pgdataSubdir: "pgdata", dbUser: "app", dbName: "cartie_prod" });
            assert.deepEqual(takeoverIdentityFromEnv({}), { pgdataSubdir: "", dbUser: "cartie", dbName: "cartie" });
        });

        it("a stack that sets none of them registers exactly what it did before: no PGDATA, no label, cartie/cartie", async () => {
            const plain = await evaluate(makeProjectDir(), validStackConfig(LEGACY));
            const db = plain.one(CONTAINER, "db").inputs as { envs: string[]; labels: { label: string }[]; healthcheck: { tests: string[] } };
            assert.ok(!db.envs.some((e) => e.startsWith("PGDATA=")));
            assert.ok(!db.labels.some((l) => l.label === LABELS.pgdata));
            assert.deepEqual(db.healthcheck.tests, ["CMD", "pg_isready", "-U", "cartie", "-d", "cartie"]);
            const env = plain.one(COMMAND, "legacy-preflight").inputs.environment as Record<string, string>;
            assert.ok(!("CARTIE_PGDATA_SUBDIR" in env) && !("CARTIE_DB_USER" in env) && !("CARTIE_DB_NAME" in env));
        });
    });

    describe("a second pulumi up changes nothing", () => {
        it("identical inputs for every resource on two runs", async () => {
            const dir = makeProjectDir();
            assert.deepEqual(changed(await evaluate(dir, validStackConfig(LEGACY)), await evaluate(dir, validStackConfig(LEGACY))), []);
        });

        it("an app change leaves the takeover steps alone", async () => {
            const dir = makeProjectDir({ copyApp: true });
            const before = await evaluate(dir, validStackConfig(LEGACY));
            fs.appendFileSync(path.join(dir, "examples/cartie/apps/api/src/server.ts"), "\n// a change\n");
            const diff = changed(before, await evaluate(dir, validStackConfig(LEGACY)));
            assert.deepEqual(diff, ["api-image", "cartie-dev-api", "migration-image", "release", "verification"]);
        });

        it("a database password rotation on an adopted stack leaves the takeover steps alone (ignoreChanges), like the db container and the migration", async () => {
            const dir = makeProjectDir();
            const before = await evaluate(dir, validStackConfig(LEGACY));
            const after = await evaluate(dir, validStackConfig({ ...LEGACY, "cartie:postgresPassword": `rotated-${TEST_SECRETS.postgresPassword}-B` }));
            assert.deepEqual(changed(before, after), ["cartie-dev-api", "db-password", "release", "verification"]);
            // The new value is registered all the same: a step that never succeeded (not in state) runs with it.
            const env = after.one(COMMAND, "legacy-preflight").inputs.environment as Record<string, string>;
            assert.equal(env.CARTIE_POSTGRES_PASSWORD, `rotated-${TEST_SECRETS.postgresPassword}-B`);
        });

        it("setting legacyComposeProject adds the three steps and touches no existing resource's inputs", async () => {
            const dir = makeProjectDir();
            const vol = { "cartie:dataVolume": "infra2_db-data" };
            const diff = changed(await evaluate(dir, validStackConfig(vol)), await evaluate(dir, validStackConfig({ ...vol, ...LEGACY })));
            assert.deepEqual(diff, ["legacy", "legacy-backup", "legacy-preflight", "legacy-takeover"]);
        });
    });

});
