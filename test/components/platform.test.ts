import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as path from "node:path";
import { Api } from "../../components/api";
import { CADDYFILE_PATH } from "../../components/proxy";
import { platformProgram } from "../../components/program";
import { renderCaddyfile } from "../../lib/proxy/caddyfile";
import { ReleaseSpec } from "../../lib/release/spec";
import { ProgramError, ProgramRun, SECRET_CONFIG_KEYS, TEST_SECRETS, changed, isWireSecret, makeProjectDir, runProgram, upstream, validStackConfig, TEST_DAEMON } from "../support/mockRuntime";
import { writeTree } from "../support/tree";
import { isGoCanonical } from "../../lib/docker/duration";

const CONTAINER = "docker:index/container:Container";
const COMMAND = "command:local:Command";
/** Logical names of the app containers: Pulumi auto-names them `<this>-<7 hex>`, new for each release. */
const API = "cartie-dev-api";
const WEB = "cartie-dev-web";

const evaluate = (dir: string, config?: Record<string, string>, secretKeys?: string[]): Promise<ProgramRun> =>
    runProgram(() => ({ ...platformProgram(dir, { daemon: TEST_DAEMON }) }), { config, secretKeys });

describe("the platform under the mock runtime", () => {
    let run: ProgramRun;
    before(async () => {
        run = await evaluate(makeProjectDir());
    });

    it("declares one component per concept, each parented to the platform", () => {
        const platform = run.one("cartie:platform:CartiePlatform");
        const components = run.resources.filter((r) => r.type.startsWith("cartie:platform:") && r !== platform);
        assert.deepEqual(components.map((r) => `${r.type} ${r.name}`).sort(), [
            "cartie:platform:Api api",
            "cartie:platform:AppImage api-image",
            "cartie:platform:AppImage routes-image",
            "cartie:platform:AppImage web-image",
            "cartie:platform:Database db",
            "cartie:platform:DbPassword db-password",
            "cartie:platform:DbReady db-ready",
            "cartie:platform:Migration migration",
            "cartie:platform:Network network",
            "cartie:platform:Proxy proxy",
            "cartie:platform:Release release",
            "cartie:platform:Routes routes",
            "cartie:platform:Verification verification",
            "cartie:platform:Web web",
        ]);
        // The db-password steps and the health gate are part of the database: its volume, its image, its container's order.
        const database = run.one("cartie:platform:Database", "db");
        const routes = run.one("cartie:platform:Routes", "routes");
        const parentOf = (name: string): string => (["db-password", "db-ready"].includes(name) ? database.urn : name === "routes-image" ? routes.urn : platform.urn);
        for (const c of components) assert.equal(c.parent, parentOf(c.name), `${c.name} is not where it belongs`);
        for (const r of run.resources.filter((x) => x.custom)) assert.ok(r.parent.includes("cartie:platform:"), `${r.name} is not inside a component`);
    });

    it("orders the update password file → db → db-ready → db-password (rotation) → migration → api → release (after api, web and proxy) → verification", () => {
        const file = run.one(COMMAND, "db-password-file");
        const rotation = run.one(COMMAND, "db-password");
        const ready = run.one(COMMAND, "db-ready");
        const db = run.one(CONTAINER, "db");
        for (const dep of ["db-data", "db-secrets", "db-image"]) assert.ok(upstream(run, file).has(dep), `the password file step does not wait for ${dep}`);
        assert.ok(upstream(run, db).has("db-password-file"), "the db container must wait for the file a fresh volume's initialisation reads");
        assert.ok(!upstream(run, db).has("db-password"), "the db container must not wait for the rotation: a db that never becomes healthy would block the update that fixes it");
        assert.ok(upstream(run, ready).has("db"), "the health gate waits for nothing but the db container");
        assert.ok(upstream(run, rotation).has("db-ready"), "the rotation must run against a db the update has made healthy");
        assert.ok(upstream(run, run.one(CONTAINER, API)).has("db-password"), "the api must wait until the role accepts its password");
        assert.equal(file.inputs.create, "node --import tsx scripts/db-password.ts --file-only");
        assert.equal(rotation.inputs.create, "node --import tsx scripts/db-password.ts");
        assert.equal(ready.inputs.create, "node --import tsx scripts/db-ready.ts");
        for (const script of ["db-password.ts", "db-ready.ts"]) assert.ok(fs.existsSync(path.resolve(__dirname, "../..", "scripts", script)));
        assert.deepEqual(file.ignoreChanges, ["environment.POSTGRES_PASSWORD"], "a rotation is the rotation step's: the file step must not show in its preview");
        const migration = run.one(COMMAND, "migration");
        const api = run.one(CONTAINER, API);
        const release = run.one(COMMAND, "release");
        const verification = run.one(COMMAND, "verification");
        for (const dep of ["db", "db-ready", "db-password"]) assert.ok(upstream(run, migration).has(dep), `the migration does not wait for ${dep}`);
        assert.ok(upstream(run, api).has("migration"), "the api does not wait for the migration: old and new api would overlap on an unmigrated schema");
        for (const dep of [API, WEB, "proxy"]) assert.ok(upstream(run, release).has(dep), `the release does not wait for ${dep}`);
        for (const dep of ["db", API, WEB, "proxy", "release"]) assert.ok(upstream(run, verification).has(dep), `the verification does not wait for ${dep}`);
        assert.ok(!upstream(run, db).has("migration"));
    });

    it("the db's health gate runs for every new db container and waits at most its timeout; the provider does not wait", () => {
        const ready = run.one(COMMAND, "db-ready");
        const db = run.one(CONTAINER, "db");
        // The db container's id, as the migration's trigger has it (the mock engine answers a fresh id per container).
        const dbId = (run.one(COMMAND, "migration").inputs.triggers as string[])[1];
        assert.match(dbId, /^db-/);
        assert.deepEqual(ready.inputs.triggers, [dbId], "a new db container (or one never seen healthy) must be gated");
        assert.deepEqual(ready.inputs.environment, { CARTIE_DB_CONTAINER: "cartie-dev-db", CARTIE_DB_READY_TIMEOUT: "180" });
        assert.equal(db.inputs.wait, false, "the provider's wait records a timed-out db with init errors and accepts it on the next up");
    });

    it("never deletes the data volume: protected and retained on delete, mounted at Postgres's data directory", () => {
        const volume = run.one("docker:index/volume:Volume", "db-data");
        assert.equal(volume.protect, true);
        assert.equal(volume.retainOnDelete, true);
        assert.equal(volume.inputs.name, "cartie-dev-db-data");
        // an adopted volume keeps compose's labels; a label diff must never turn into a replacement
        assert.deepEqual(volume.ignoreChanges, ["labels"]);
        const secrets = run.one("docker:index/volume:Volume", "db-secrets");
        assert.equal(secrets.inputs.name, "cartie-dev-db-secrets");
        assert.equal(secrets.protect, true);
        assert.equal(secrets.retainOnDelete, true);
        assert.ok((secrets.inputs.labels as { label: string; value: string }[]).some((l) => l.label === "io.cartie.platform.component" && l.value === "db-secrets"));
        const db = run.one(CONTAINER, "db");
        assert.deepEqual(db.inputs.mounts, [
            { source: "cartie-dev-db-data", target: "/var/lib/postgresql/data", type: "volume" },
            { readOnly: true, source: "cartie-dev-db-secrets", target: "/run/cartie", type: "volume" },
        ]);
        assert.deepEqual((db.inputs.healthcheck as { tests: string[] }).tests, ["CMD", "pg_isready", "-U", "cartie", "-d", "cartie"]);
    });

    it("publishes exactly one host port: the proxy's, on the configured address", () => {
        const published = run.byType(CONTAINER).filter((c) => Array.isArray(c.inputs.ports) && c.inputs.ports.length > 0);
        assert.deepEqual(published.map((c) => c.name), ["proxy"]);
        assert.deepEqual(published[0].inputs.ports, [{ external: 8082, internal: 80, ip: "127.0.0.1", protocol: "tcp" }]);
    });

    it("gives every container a healthcheck and a restart policy; healthcheck edits replace rather than patch a running container", () => {
        for (const c of run.byType(CONTAINER)) {
            assert.ok((c.inputs.healthcheck as { tests?: string[] } | undefined)?.tests?.length, `${c.name} has no healthcheck`);
            assert.equal(c.inputs.restart, "unless-stopped", `${c.name} restart`);
            assert.deepEqual(c.replaceOnChanges, ["healthcheck"], `${c.name} replaceOnChanges`);
        }
    });

    it("db and proxy keep fixed names and aliases and replace delete-first, each with a stop grace period", () => {
        for (const [name, grace] of [["db", 60], ["proxy", 10]] as const) {
            const c = run.one(CONTAINER, name);
            assert.equal(c.inputs.name, `cartie-dev-${name}`);
            assert.deepEqual(c.inputs.networksAdvanced, [{ aliases: [name], name: "cartie-dev-net" }]);
            // one data directory, one published port: the old one lets go before the new one starts
            assert.equal(c.deleteBeforeReplace, true, `${name} deleteBeforeReplace`);
            assert.equal(c.inputs.destroyGraceSeconds, grace, `${name} is killed without a grace period when replaced`);
            assert.equal(c.inputs.stopTimeout, grace);
        }
    });

    it("api and web are replaced create-first, next to the serving container, with no shared routing alias and no provider wait", () => {
        for (const [logical, role] of [[API, "api"], [WEB, "web"]] as const) {
            const c = run.one(CONTAINER, logical);
            assert.equal(c.inputs.name, undefined, `${role}: a fixed name would make the old container let go of it first`);
            assert.match(String(c.outputs.name), new RegExp(`^cartie-dev-${role}-[0-9a-f]{7}$`), `${role}: auto-named per release`);
            assert.equal(c.deleteBeforeReplace, false, `${role}: delete-first drops traffic`);
            assert.equal(c.deleteBeforeReplaceDefined, true, `${role}: the docker provider defaults containers to delete-first; the program must say false`);
            assert.deepEqual(c.inputs.networksAdvanced, [{ name: "cartie-dev-net" }], `${role}: Docker DNS ignores health, so an alias would route to a booting or broken container`);
            assert.equal(c.inputs.wait, false, `${role}: the provider's wait leaves a failed container recorded and the serving one pending deletion`);
            assert.equal(c.retainOnDelete, false, `${role}: pulumi destroy must stop it (the Release's delete may never stop a live container)`);
            assert.equal(c.inputs.stopSignal, "SIGTERM");
            assert.equal(c.inputs.stopTimeout, 30, `${role}: grace period`);
            assert.equal(c.inputs.destroyGraceSeconds, 30);
            const hc = c.inputs.healthcheck as { startInterval?: string; startPeriod?: string };
            assert.equal(hc.startInterval, undefined, `${role}: Docker API 1.41 refuses a container with a start interval`);
            assert.equal(hc.startPeriod, "1m0s", `${role}: written as the provider reads it back, or every update replaces it`);
        }
    });

    it("writes every duration of every resource in Go's form, which is how the docker provider reads it back (else every update replaces it)", () => {
        const durations: string[] = [];
        const walk = (v: unknown, where: string): void => {
            if (typeof v === "string" && /^\d+(\.\d+)?(h|m|s|ms)(\d|$)/.test(v) && /(h|m|s|ms)$/.test(v)) durations.push(`${where}=${v}`);
            else if (Array.isArray(v)) v.forEach((x, i) => walk(x, `${where}[${i}]`));
            else if (v && typeof v === "object") for (const [k, x] of Object.entries(v)) walk(x, `${where}.${k}`);
        };
        for (const r of run.byType(CONTAINER)) walk(r.inputs.healthcheck, `${r.name}.healthcheck`);
        assert.ok(durations.length >= 12, `found only ${durations.join(", ")}`);
        for (const d of durations) assert.ok(isGoCanonical(d.split("=")[1]), `${d} is not in Go's form`);
    });

    it("for a daemon with Docker API 1.44 or newer, api and web probe every 2 s while starting; db and proxy keep their healthchecks (a change would replace them delete-first)", async () => {
        const modern = await runProgram(() => ({ ...platformProgram(makeProjectDir(), { daemon: { apiVersion: "1.47" } }) }), {});
        for (const name of [API, WEB]) assert.equal((modern.one(CONTAINER, name).inputs.healthcheck as { startInterval?: string }).startInterval, "2s", name);
        for (const name of ["db", "proxy"]) assert.deepEqual(modern.one(CONTAINER, name).inputs.healthcheck, run.one(CONTAINER, name).inputs.healthcheck, name);
    });

    it("the release routes to exactly the new container names, gates them for the configured time and retires old ones with the grace period", () => {
        const release = run.one(COMMAND, "release");
        assert.equal(release.inputs.create, "node --import tsx scripts/release.ts");
        assert.equal(release.inputs.delete, "node --import tsx scripts/release.ts --retire-leftovers");
        assert.equal(release.inputs.triggers, undefined, "a trigger would replace the release on every change");
        const env = release.inputs.environment as Record<string, string>;
        const spec = JSON.parse(env.CARTIE_RELEASE_SPEC) as ReleaseSpec;
        assert.deepEqual(spec.desired, { api: String(run.one(CONTAINER, API).outputs.name), web: String(run.one(CONTAINER, WEB).outputs.name) });
        assert.deepEqual(spec.ports, { api: 3000, web: 8080 });
        assert.equal(spec.proxyContainer, "cartie-dev-proxy");
        assert.equal(spec.routesContainer, String(run.one(CONTAINER, "cartie-dev-routes").outputs.name));
        assert.equal(spec.network, "cartie-dev-net");
        assert.equal(spec.healthTimeoutSeconds, 120);
        assert.equal(spec.stopGraceSeconds, 30);
        assert.equal(spec.drainTimeoutSeconds, 30);
        assert.deepEqual(spec.smokePaths, ["/", "/api/health"]);
        assert.deepEqual(spec.labels, { project: "cartie-platform", stack: "dev" });
        assert.equal(env.CARTIE_CADDYFILE, renderCaddyfile({ listenPort: 80, candidatePort: 8081, routed: spec.ports, apiPathPrefix: "/api", accessLog: false }));
        assert.doesNotMatch(env.CARTIE_CADDYFILE, /cartie-dev-(api|web)-/, "the config names a container: every release would be a config load");
        assert.ok(env.CARTIE_PROXY_ID, "a recreated proxy (new id) must re-run the release to be routed again");
        assert.ok(env.CARTIE_ROUTES_ID, "a recreated responder must re-run the release, which checks its records");
    });

    it("hands the api its variables as a Pulumi secret, and marks the secret outputs", () => {
        const api = run.one(CONTAINER, API);
        assert.ok(isWireSecret(api.wire.envs), "the api envs are plaintext in state");
        const env = Object.fromEntries((api.inputs.envs as string[]).map((e) => [e.slice(0, e.indexOf("=")), e.slice(e.indexOf("=") + 1)]));
        assert.deepEqual(Object.keys(env).sort(), ["CARTIE_RELEASE", "DATABASE_URL", "JWT_SECRET", "NODE_ENV", "PORT", "SEED_SUPERADMIN_EMAIL", "SEED_SUPERADMIN_PASSWORD"]);
        assert.equal(env.CARTIE_RELEASE, String(run.one("docker:index/image:Image", "api-image").inputs.imageName).split(":")[1], "the api says which release it is");
        assert.equal(env.SEED_SUPERADMIN_PASSWORD, TEST_SECRETS.seedSuperadminPassword);
        assert.equal(new URL(env.DATABASE_URL).host, "db:5432");
        assert.deepEqual(api.additionalSecretOutputs, ["envs"]);
        const db = run.one(CONTAINER, "db");
        assert.ok(isWireSecret(db.wire.envs));
        assert.deepEqual(db.additionalSecretOutputs, ["envs"]);
        // The db reads the password from the file the db-password step writes; it never has it in its environment.
        assert.deepEqual((db.inputs.envs as string[]).sort(), ["POSTGRES_DB=cartie", "POSTGRES_PASSWORD_FILE=/run/cartie/postgres-password", "POSTGRES_USER=cartie"]);
        const migration = run.one(COMMAND, "migration");
        assert.equal((migration.inputs.environment as Record<string, string>).DATABASE_URL, undefined, "the migration reads the password from the db-secrets volume at run time");
        assert.deepEqual(migration.additionalSecretOutputs.sort(), ["environment", "stderr", "stdout"]);
        const step = run.one(COMMAND, "db-password");
        const stepEnv = step.wire.environment as Record<string, unknown>;
        assert.ok(isWireSecret(stepEnv.POSTGRES_PASSWORD) || isWireSecret(stepEnv), "the db-password step's password is plaintext in state");
        assert.equal((step.inputs.environment as Record<string, string>).POSTGRES_PASSWORD, TEST_SECRETS.postgresPassword);
        assert.deepEqual(step.additionalSecretOutputs.sort(), ["environment", "stderr", "stdout"]);
    });

    it("keeps secrets out of build args and every non-secret input", () => {
        const secrets = Object.values(TEST_SECRETS);
        for (const r of run.resources) {
            const plain = JSON.stringify(r.wire, (_k, v: unknown) => (isWireSecret(v) ? "<secret>" : v));
            for (const s of secrets) assert.ok(!plain.includes(s) && !plain.includes(encodeURIComponent(s)), `${r.name} carries a secret in plaintext`);
        }
        const web = run.one("docker:index/image:Image", "web-image");
        assert.deepEqual((web.inputs.build as { args: Record<string, string> }).args, { VITE_API_BASE_URL: "http://localhost:8082/api" });
    });

    it("starts a new proxy on a bootstrap Caddyfile with no routes: the release loads the live ones in place", () => {
        const proxy = run.one(CONTAINER, "proxy");
        assert.deepEqual(proxy.inputs.uploads, [{ content: renderCaddyfile({ listenPort: 80, candidatePort: 8081 }), file: CADDYFILE_PATH }]);
        assert.doesNotMatch(JSON.stringify(proxy.inputs), /cartie-dev-(api|web)-/, "a proxy input naming a release would replace the proxy on every release");
    });

    it("tags images by content and runs containers from those tags", () => {
        const apiImage = run.one("docker:index/image:Image", "api-image");
        assert.match(String(apiImage.inputs.imageName), /^cartie-dev-api:[0-9a-f]{16}$/);
        assert.equal(apiImage.inputs.skipPush, true);
        assert.equal(apiImage.inputs.buildOnPreview, false);
        assert.equal(run.one(CONTAINER, API).inputs.image, apiImage.inputs.imageName);
        assert.equal(run.one(CONTAINER, WEB).inputs.image, run.one("docker:index/image:Image", "web-image").inputs.imageName);
        assert.equal(run.outputs.apiImage, apiImage.inputs.imageName);
    });

    it("reaches the api image for migrations through a tag named by the migrations digest", () => {
        const tag = run.one("docker:index/tag:Tag", "migration-image");
        assert.equal(tag.inputs.sourceImage, run.one("docker:index/image:Image", "api-image").inputs.imageName);
        assert.match(String(tag.inputs.targetImage), /^cartie-dev-api-migrator:[0-9a-f]{16}$/);
        assert.equal(tag.deleteBeforeReplace, true, "a create-first replacement would untag the new image");
        assert.equal((run.one(COMMAND, "migration").inputs.environment as Record<string, string>).CARTIE_MIGRATOR_IMAGE, tag.inputs.targetImage);
    });

    it("runs the migration and the verification as project modules", () => {
        const migration = run.one(COMMAND, "migration");
        assert.equal(migration.inputs.create, "node --import tsx scripts/migrate.ts");
        assert.equal((migration.inputs.environment as Record<string, string>).CARTIE_MIGRATION_BASELINE, "v41_baseline");
        assert.equal((migration.inputs.environment as Record<string, string>).CARTIE_MIGRATIONS_DIR, "examples/cartie/apps/api/prisma/migrations");
        const verification = run.one(COMMAND, "verification");
        assert.equal((verification.inputs.environment as Record<string, string>).CARTIE_VERIFY_URLS, "http://127.0.0.1:8082/ http://127.0.0.1:8082/api/health");
        for (const f of ["scripts/migrate.ts", "scripts/verify.ts"]) assert.ok(fs.existsSync(path.resolve(__dirname, "../..", f)), `${f} is missing`);
    });

    it("hands the Migration step its backup settings as inputs, so preview shows them", () => {
        const env = run.one(COMMAND, "migration").inputs.environment as Record<string, string>;
        assert.equal(env.CARTIE_BACKUP_DIR, "backups");
        assert.equal(env.CARTIE_BACKUP_RETENTION, "10");
        assert.equal(env.CARTIE_PRE_MIGRATION_BACKUP, "true");
        assert.equal(env.CARTIE_BACKUP_PROJECT, "cartie-dev");
        const wire = run.one(COMMAND, "migration").wire.environment as Record<string, unknown>;
        for (const k of ["CARTIE_BACKUP_DIR", "CARTIE_BACKUP_RETENTION", "CARTIE_PRE_MIGRATION_BACKUP"]) assert.ok(!isWireSecret(wire[k]), `${k} is hidden from preview`);
    });

    it("exports what a person asks for", () => {
        assert.equal(run.outputs.url, "http://localhost:8082");
        assert.equal(run.outputs.apiHealthUrl, "http://localhost:8082/api/health");
        assert.match(String(run.outputs.webImage), /^cartie-dev-web:[0-9a-f]{16}$/);
        assert.ok("verification" in run.outputs);
    });
});

describe("convergence, as preview would show it", () => {
    it("registers identical inputs for every resource on two runs with the same inputs", async () => {
        const dir = makeProjectDir();
        assert.deepEqual(changed(await evaluate(dir), await evaluate(dir)), []);
    });

    it("an api source change: the api image, the api container, the migrator tag and the verification, nothing else", async () => {
        const dir = makeProjectDir({ copyApp: true });
        const before = await evaluate(dir);
        fs.appendFileSync(path.join(dir, "examples/cartie/apps/api/src/server.ts"), "\n// a change\n");
        assert.deepEqual(changed(before, await evaluate(dir)), ["api-image", API, "migration-image", "release", "verification"]);
    });

    it("a new migration: also the migration, and only then", async () => {
        const dir = makeProjectDir({ copyApp: true });
        const before = await evaluate(dir);
        writeTree(dir, { "examples/cartie/apps/api/prisma/migrations/v99_test/migration.sql": "SELECT 1;\n" });
        assert.deepEqual(changed(before, await evaluate(dir)), ["api-image", API, "migration", "migration-image", "release", "verification"]);
    });

    it("an apiBaseUrl change: only the web image and what depends on it", async () => {
        const dir = makeProjectDir();
        const before = await evaluate(dir);
        const after = await evaluate(dir, validStackConfig({ "cartie:apiBaseUrl": "https://cartie.example.org/api" }));
        assert.deepEqual(changed(before, after), [WEB, "release", "verification", "web-image"]);
    });

    it("a database password change: the db-password step and the api (and the release that switches to it), not the db container, its volumes or the migration; no password in plaintext", async () => {
        const dir = makeProjectDir();
        const before = await evaluate(dir);
        const rotated = `rotated-${TEST_SECRETS.postgresPassword}-B`;
        const after = await evaluate(dir, validStackConfig({ "cartie:postgresPassword": rotated }));
        assert.deepEqual(changed(before, after), [API, "db-password", "release", "verification"]);
        assert.equal((after.one(COMMAND, "db-password").inputs.environment as Record<string, string>).POSTGRES_PASSWORD, rotated);
        for (const run of [before, after]) {
            for (const r of run.resources) {
                const plain = JSON.stringify(r.wire, (_k, v: unknown) => (isWireSecret(v) ? "<secret>" : v));
                for (const s of [TEST_SECRETS.postgresPassword, rotated]) {
                    assert.ok(!plain.includes(s) && !plain.includes(encodeURIComponent(s)), `${r.name} carries a database password in a plaintext input`);
                    // An output that echoes a secret input must be a secret output too.
                    for (const [k, v] of Object.entries(r.outputs)) {
                        if (JSON.stringify(v ?? null).includes(s) || JSON.stringify(v ?? null).includes(encodeURIComponent(s))) {
                            assert.ok(r.additionalSecretOutputs.includes(k) || isWireSecret(r.wire[k]), `${r.name}.${k} carries a database password in plaintext`);
                        }
                    }
                }
            }
        }
    });

    it("a file .dockerignore excludes changes nothing", async () => {
        const dir = makeProjectDir({ copyApp: true });
        const before = await evaluate(dir);
        writeTree(dir, { "examples/cartie/apps/api/node_modules/x/index.js": "x", "examples/cartie/apps/api/dist/server.js": "stale", "examples/cartie/apps/web/.env": "X=1" });
        assert.deepEqual(changed(before, await evaluate(dir)), []);
    });

    it("a backup setting changes only the migration's inputs, and preview shows the new value", async () => {
        const dir = makeProjectDir();
        const before = await evaluate(dir);
        for (const [key, variable, value] of [
            ["cartie:preMigrationBackup", "CARTIE_PRE_MIGRATION_BACKUP", "false"],
            ["cartie:backupRetention", "CARTIE_BACKUP_RETENTION", "3"],
            ["cartie:backupDir", "CARTIE_BACKUP_DIR", "/srv/cartie-backups"],
        ]) {
            const after = await evaluate(dir, validStackConfig({ [key]: value }));
            assert.deepEqual(changed(before, after), ["migration"], key);
            assert.equal((after.one(COMMAND, "migration").inputs.environment as Record<string, string>)[variable], value);
        }
    });

    it("a public port change replaces the proxy (preview says so) and re-routes it: the proxy, the release and the verification", async () => {
        const dir = makeProjectDir();
        const before = await evaluate(dir);
        const after = await evaluate(dir, validStackConfig({ "cartie:publicPort": "9090", "cartie:publicUrl": "http://localhost:8082" }));
        assert.deepEqual(changed(before, after), ["proxy", "release", "verification"]);
    });

    it("a routing change (the access log) reloads the proxy in place: only the release changes, never the proxy container", async () => {
        const dir = makeProjectDir();
        const before = await evaluate(dir);
        const after = await evaluate(dir, validStackConfig({ "cartie:accessLog": "true" }));
        assert.deepEqual(changed(before, after), ["release"]);
        assert.match((after.one(COMMAND, "release").inputs.environment as Record<string, string>).CARTIE_CADDYFILE, /^\tlog$/m);
    });

    it("the health gate's timeout shows in preview as a change of the release only", async () => {
        const dir = makeProjectDir();
        const after = await evaluate(dir, validStackConfig({ "cartie:releaseHealthTimeout": "45" }));
        assert.deepEqual(changed(await evaluate(dir), after), ["release"]);
        assert.equal((JSON.parse((after.one(COMMAND, "release").inputs.environment as Record<string, string>).CARTIE_RELEASE_SPEC) as { healthTimeoutSeconds: number }).healthTimeoutSeconds, 45);
    });
});

describe("rotating the JWT secret and the superadmin password, as preview would show it", () => {
    const previous = `previous-${TEST_SECRETS.jwtSecret}`;
    const newPassword = `new-${TEST_SECRETS.seedSuperadminPassword}`;

    it("a new seedSuperadminPassword touches the api container and what routes to it only; the api component says, without the value, that the new api applies it to the existing superadmin", async () => {
        const dir = makeProjectDir();
        const before = await evaluate(dir, validStackConfig());
        const after = await evaluate(dir, validStackConfig({ "cartie:seedSuperadminPassword": newPassword }));
        assert.deepEqual(changed(before, after), [API, "release", "verification"]);
        for (const { logs } of [before, after]) {
            const superadmin = logs.filter((n) => n.message.startsWith("superadmin password:"));
            assert.equal(superadmin.length, 1, logs.map((n) => n.message).join("\n"));
            assert.equal(superadmin[0].severity, "info");
            assert.ok(superadmin[0].resource instanceof Api, "the notice is not attached to the api component");
            assert.match(superadmin[0].message, /applies SEED_SUPERADMIN_PASSWORD \(cartie:seedSuperadminPassword\) to the existing superadmin when it starts/);
            assert.match(superadmin[0].message, /the old password stops working/);
        }
        for (const n of [...before.logs, ...after.logs]) {
            for (const v of [...Object.values(TEST_SECRETS), newPassword]) assert.ok(!n.message.includes(v), "a notice printed a secret");
        }
        assert.ok(!after.logs.some((n) => n.message.startsWith("JWT rotation")), "a JWT notice without jwtSecretPrevious");
    });

    it("jwtSecretPrevious: a secret input of the api only (as JWT_SECRET_PREVIOUS), the api component says a rotation is in progress and how to end it; removing it is again an api change", async () => {
        const dir = makeProjectDir();
        const before = await evaluate(dir, validStackConfig());
        const rotating = await evaluate(dir, validStackConfig({ "cartie:jwtSecretPrevious": previous }));
        assert.deepEqual(changed(before, rotating), [API, "release", "verification"]);
        const api = rotating.one(CONTAINER, API);
        assert.ok(isWireSecret(api.wire.envs));
        assert.ok((api.inputs.envs as string[]).includes(`JWT_SECRET_PREVIOUS=${previous}`));
        for (const r of rotating.resources) {
            const plain = JSON.stringify(r.wire, (_k, v: unknown) => (isWireSecret(v) ? "<secret>" : v));
            assert.ok(!plain.includes(previous), `${r.name} carries jwtSecretPrevious in plaintext`);
        }
        const jwt = rotating.logs.filter((n) => n.message.startsWith("JWT rotation in progress"));
        assert.equal(jwt.length, 1);
        assert.ok(jwt[0].resource instanceof Api);
        assert.match(jwt[0].message, /pulumi config rm cartie:jwtSecretPrevious/);
        assert.ok(!jwt[0].message.includes(previous));
        // The same config again: nothing changes (a rotation is idempotent).
        assert.deepEqual(changed(rotating, await evaluate(dir, validStackConfig({ "cartie:jwtSecretPrevious": previous }))), []);
        assert.deepEqual(changed(rotating, await evaluate(dir, validStackConfig())), [API, "release", "verification"]);
    });
});

describe("failing before anything is registered", () => {
    const failure = async (dir: string, config?: Record<string, string>, secretKeys?: string[]): Promise<ProgramError> => {
        try {
            await evaluate(dir, config, secretKeys);
        } catch (err) {
            if (err instanceof ProgramError) return err;
            throw err;
        }
        assert.fail("the program did not fail");
    };

    it("a missing secret", async () => {
        const err = await failure(makeProjectDir(), validStackConfig({ "cartie:seedSuperadminPassword": undefined }));
        assert.match(err.message, /cartie:seedSuperadminPassword: missing/);
        assert.match(err.message, /pulumi config set --secret cartie:seedSuperadminPassword/);
        assert.equal(err.registered, 0);
    });

    it("a secret set without --secret", async () => {
        const err = await failure(makeProjectDir(), validStackConfig(), SECRET_CONFIG_KEYS.filter((k) => k !== "cartie:jwtSecret"));
        assert.match(err.message, /cartie:jwtSecret: is stored in plaintext/);
        assert.equal(err.registered, 0);
    });

    it("a build context that would leak node_modules, dist or .env", async () => {
        const dir = makeProjectDir({ copyApp: true });
        fs.writeFileSync(path.join(dir, "examples/cartie/apps/api/.dockerignore"), "node_modules\n");
        const err = await failure(dir);
        assert.match(err.message, /apps\/api\/\.dockerignore does not exclude dist, \.env/);
        assert.equal(err.registered, 0);
    });
});
