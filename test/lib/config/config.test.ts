import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as path from "node:path";
import { ConfigError, RawConfig, imageRefProblem, isPlaceholder, mergeSources, validateConfig } from "../../../lib/config";
import { readEnvironment } from "../../../lib/config/stack";
import { TEST_SECRETS, makeProjectDir } from "../../support/mockRuntime";

const projectDir = makeProjectDir();
const opts = { projectDir, stack: "dev", project: "cartie-platform" };

function stack(values: Record<string, string>, encrypted = true): RawConfig {
    return Object.fromEntries(Object.entries(values).map(([k, v]) => [k, { value: v, source: "stack" as const, encrypted }]));
}

const valid = {
    seedSuperadminEmail: "admin@cartie.test",
    postgresPassword: TEST_SECRETS.postgresPassword,
    jwtSecret: TEST_SECRETS.jwtSecret,
    seedSuperadminPassword: TEST_SECRETS.seedSuperadminPassword,
};

function problemsOf(raw: RawConfig): ConfigError {
    try {
        validateConfig(raw, opts);
    } catch (err) {
        if (err instanceof ConfigError) return err;
        throw err;
    }
    assert.fail("expected a ConfigError");
}

describe("config contract", () => {
    it("applies the documented defaults", () => {
        const cfg = validateConfig(stack(valid), opts);
        assert.equal(cfg.appRoot, "examples/cartie");
        assert.equal(cfg.appRootAbs, path.join(projectDir, "examples/cartie"));
        assert.equal(cfg.publicPort, 8082);
        assert.equal(cfg.publicBind, "127.0.0.1");
        assert.equal(cfg.publicUrl, "http://localhost:8082");
        assert.equal(cfg.apiBaseUrl, "http://localhost:8082/api");
        assert.equal(cfg.migrationBaseline, "v41_baseline");
        assert.equal(cfg.namePrefix, "cartie-dev");
        assert.equal(cfg.dataVolume, "cartie-dev-db-data");
        assert.equal(imageRefProblem(cfg.postgresImage), undefined);
        assert.equal(imageRefProblem(cfg.caddyImage), undefined);
    });

    it("the data folder, db user and db name: unset keeps the platform's cartie/cartie at the volume's root; a bad value is refused with its key", () => {
        const cfg = validateConfig(stack(valid), opts);
        assert.deepEqual([cfg.pgdataSubdir, cfg.dbUser, cfg.dbName], ["", "cartie", "cartie"]);
        const adopted = validateConfig(stack({ ...valid, pgdataSubdir: "pgdata/", dbUser: "app", dbName: "cartie_prod" }), opts);
        assert.deepEqual([adopted.pgdataSubdir, adopted.dbUser, adopted.dbName], ["pgdata", "app", "cartie_prod"]);
        assert.equal(validateConfig(stack({ ...valid, pgdataSubdir: "pg/15/main" }), opts).pgdataSubdir, "pg/15/main");
        for (const bad of ["/var/lib/postgresql/data/pgdata", "../other", "pg/../x", "."]) {
            assert.match(problemsOf(stack({ ...valid, pgdataSubdir: bad })).message, /cartie:pgdataSubdir: .* is not a folder inside the volume/, bad);
        }
        const err = problemsOf(stack({ ...valid, dbUser: "app'; DROP", dbName: "9lives" }));
        assert.deepEqual(err.problems.map((p) => p.key), ["dbUser", "dbName"]);
    });

    it("backs up before every migration into backups/, keeping 10 pre-migration backups, unless the stack says otherwise", () => {
        assert.deepEqual(validateConfig(stack(valid), opts).backup, { dir: "backups", retention: 10, preMigration: true });
        assert.deepEqual(validateConfig(stack({ ...valid, backupDir: "/srv/cartie-backups", backupRetention: "3", preMigrationBackup: "false" }), opts).backup, {
            dir: "/srv/cartie-backups",
            retention: 3,
            preMigration: false,
        });
        const err = problemsOf(stack({ ...valid, backupRetention: "0", preMigrationBackup: "maybe" }));
        assert.deepEqual(
            err.problems.map((p) => p.key),
            ["backupRetention", "preMigrationBackup"],
        );
        assert.match(err.message, /cartie:backupRetention: "0" is not a whole number from 1 to 1000[\s\S]*pulumi config set cartie:backupRetention '10'/);
        assert.match(err.message, /cartie:preMigrationBackup: "maybe" is neither true nor false[\s\S]*pulumi config set cartie:preMigrationBackup 'true'/);
    });

    it("releases: the health gate waits 120 s and the proxy logs no request unless the stack says otherwise; bad values are refused with their keys", () => {
        const cfg = validateConfig(stack(valid), opts);
        assert.deepEqual([cfg.releaseHealthTimeout, cfg.accessLog], [120, false]);
        const set = validateConfig(stack({ ...valid, releaseHealthTimeout: "45", accessLog: "yes" }), opts);
        assert.deepEqual([set.releaseHealthTimeout, set.accessLog], [45, true]);
        const err = problemsOf(stack({ ...valid, releaseHealthTimeout: "3", accessLog: "loud" }));
        assert.deepEqual(err.problems.map((p) => p.key), ["releaseHealthTimeout", "accessLog"]);
        assert.match(err.message, /cartie:releaseHealthTimeout: "3" is not a number of seconds between 5 and 3600[\s\S]*pulumi config set cartie:releaseHealthTimeout '120'/);
        assert.match(err.message, /cartie:accessLog: "loud" is neither true nor false/);
    });

    it("derives publicUrl and apiBaseUrl from the port, and lets each be set", () => {
        assert.equal(validateConfig(stack({ ...valid, publicPort: "9090" }), opts).apiBaseUrl, "http://localhost:9090/api");
        const cfg = validateConfig(stack({ ...valid, publicUrl: "https://cartie.example.org/" }), opts);
        assert.equal(cfg.publicUrl, "https://cartie.example.org");
        assert.equal(cfg.apiBaseUrl, "https://cartie.example.org/api");
    });

    it("reports every problem at once, each with its key and exact fix", () => {
        const err = problemsOf(
            stack({
                seedSuperadminEmail: "not-an-email",
                postgresPassword: "changeme",
                jwtSecret: "short-but-real-7Q",
                publicPort: "70000",
                publicUrl: "localhost:8082",
                postgresImage: "postgres:latest",
                caddyImage: "caddy",
                appRoot: "no/such/dir",
            }),
        );
        const keys = err.problems.map((p) => p.key).sort();
        assert.deepEqual(keys, ["appRoot", "caddyImage", "jwtSecret", "postgresImage", "postgresPassword", "publicPort", "publicUrl", "seedSuperadminEmail", "seedSuperadminPassword"].sort());
        const byKey = Object.fromEntries(err.problems.map((p) => [p.key, p]));
        assert.match(byKey.seedSuperadminPassword.problem, /missing/);
        assert.match(byKey.seedSuperadminPassword.fix, /pulumi config set --secret cartie:seedSuperadminPassword/);
        assert.match(byKey.seedSuperadminPassword.fix, /SEED_SUPERADMIN_PASSWORD=/);
        assert.match(byKey.postgresPassword.problem, /placeholder/);
        assert.match(byKey.jwtSecret.problem, /too short.*at least 32/);
        assert.match(byKey.publicPort.problem, /between 1 and 65535/);
        assert.match(byKey.publicUrl.problem, /not an http\(s\) URL/);
        assert.match(byKey.postgresImage.problem, /latest/);
        assert.match(byKey.caddyImage.problem, /no tag/);
        assert.match(byKey.appRoot.problem, /does not exist/);
        assert.match(err.message, /9 problems; nothing was changed/);
    });

    it("never puts a secret's value in the message", () => {
        const secret = "short-but-real-7Q";
        const err = problemsOf(stack({ ...valid, jwtSecret: secret, postgresPassword: "changeme" }));
        assert.ok(!err.message.includes(secret), "the too-short secret leaked into the message");
        assert.ok(!err.message.includes("changeme"), "the placeholder value leaked into the message");
    });

    it("refuses empty values and placeholders", () => {
        const err = problemsOf(stack({ ...valid, seedSuperadminPassword: "   ", jwtSecret: "<your jwt secret here, long enough>" }));
        const byKey = Object.fromEntries(err.problems.map((p) => [p.key, p.problem]));
        assert.match(byKey.seedSuperadminPassword, /empty/);
        assert.match(byKey.jwtSecret, /placeholder/);
        for (const v of ["changeme", "CHANGE_ME", "xxxxxxxx", "TODO: fill in", "password", "secret"]) assert.ok(isPlaceholder(v), v);
        assert.ok(!isPlaceholder(TEST_SECRETS.jwtSecret));
    });

    it("refuses a secret kept in plaintext in the stack file", () => {
        const raw: RawConfig = { ...stack(valid), jwtSecret: { value: TEST_SECRETS.jwtSecret, source: "stack", encrypted: false } };
        const err = problemsOf(raw);
        assert.deepEqual(err.problems.map((p) => p.key), ["jwtSecret"]);
        assert.match(err.problems[0].problem, /plaintext/);
        assert.match(err.problems[0].fix, /pulumi config rm cartie:jwtSecret.*pulumi config set --secret cartie:jwtSecret/);
    });

    it("checks the app layout and the baseline migration", () => {
        const notMonorepo = problemsOf(stack({ ...valid, appRoot: "examples" }));
        assert.match(notMonorepo.problems[0].problem, /apps\/api\/Dockerfile and apps\/web\/Dockerfile not found/);
        const baseline = problemsOf(stack({ ...valid, migrationBaseline: "v40_nothing" }));
        assert.equal(baseline.problems[0].key, "migrationBaseline");
        assert.match(baseline.problems[0].problem, /"v40_nothing" not found.*found: v41_baseline/);
    });

    it("accepts only IP addresses to bind to", () => {
        assert.equal(validateConfig(stack({ ...valid, publicBind: "0.0.0.0" }), opts).publicBind, "0.0.0.0");
        assert.equal(problemsOf(stack({ ...valid, publicBind: "everywhere" })).problems[0].key, "publicBind");
    });

    it("lets stack config win over the environment", () => {
        const merged = mergeSources(
            { jwtSecret: { value: "from-stack", encrypted: true } },
            { JWT_SECRET: "from-env", POSTGRES_PASSWORD: "pg-from-env", SEED_SUPERADMIN_EMAIL: undefined },
        );
        assert.deepEqual(merged.jwtSecret, { value: "from-stack", source: "stack", encrypted: true });
        assert.deepEqual(merged.postgresPassword, { value: "pg-from-env", source: "env" });
        assert.equal(merged.seedSuperadminEmail, undefined);
    });

    it("jwtSecretPrevious: optional; once set, a secret like jwtSecret (stored encrypted, at least 32 characters, no placeholder, not jwtSecret itself), each problem listed with the others and its fix", () => {
        const previous = `previous-${TEST_SECRETS.jwtSecret}`;
        assert.equal(validateConfig(stack(valid), opts).secrets.jwtSecretPrevious, undefined);
        assert.equal(validateConfig(stack({ ...valid, jwtSecretPrevious: previous }), opts).secrets.jwtSecretPrevious, previous);

        const problem = (value: string, encrypted = true): { problem: string; fix: string } => {
            const err = problemsOf({ ...stack(valid), jwtSecretPrevious: { value, source: "stack", encrypted } });
            assert.deepEqual(err.problems.map((p) => p.key), ["jwtSecretPrevious"], value);
            assert.ok(!err.message.includes(value) || value.trim() === "", "the value leaked into the message");
            return err.problems[0];
        };
        const short = problem("short-but-real-7Q");
        assert.match(short.problem, /too short for a secret \(17 characters; at least 32 are required\)/);
        assert.match(short.fix, /pulumi config set --secret cartie:jwtSecretPrevious/);
        assert.match(short.fix, /JWT_SECRET_PREVIOUS=/);
        assert.match(problem("<the old jwt secret goes here>").problem, /placeholder/);
        const same = problem(TEST_SECRETS.jwtSecret);
        assert.match(same.problem, /is the same as cartie:jwtSecret/);
        assert.match(same.fix, /the value jwtSecret had before the rotation.*pulumi config rm cartie:jwtSecretPrevious/);
        const empty = problem("  ");
        assert.match(empty.problem, /empty \(from stack config\)/);
        assert.match(empty.fix, /to keep none, remove it with `pulumi config rm cartie:jwtSecretPrevious`/);
        const plain = problem(previous, false);
        assert.match(plain.problem, /plaintext/);
        assert.match(plain.fix, /pulumi config rm cartie:jwtSecretPrevious.*pulumi config set --secret cartie:jwtSecretPrevious/);

        // Listed with the others: one error, every key.
        const all = problemsOf(stack({ ...valid, jwtSecret: "short-but-real-7Q", jwtSecretPrevious: "changeme" }));
        assert.deepEqual(all.problems.map((p) => p.key), ["jwtSecret", "jwtSecretPrevious"]);
    });

    it("jwtSecretPrevious from the environment: read as JWT_SECRET_PREVIOUS, checked the same way; left blank as .env.example has it, it is unset", () => {
        const previous = `previous-${TEST_SECRETS.jwtSecret}`;
        const stackValues = Object.fromEntries(Object.entries(valid).map(([k, v]) => [k, { value: v, encrypted: true }]));
        const fromEnv = (value: string): RawConfig => mergeSources(stackValues, { JWT_SECRET_PREVIOUS: value });
        assert.equal(validateConfig(fromEnv(previous), opts).secrets.jwtSecretPrevious, previous);
        assert.equal(validateConfig(fromEnv(""), opts).secrets.jwtSecretPrevious, undefined);
        assert.equal(validateConfig(fromEnv("   "), opts).secrets.jwtSecretPrevious, undefined);
        const err = problemsOf(fromEnv("xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"));
        assert.deepEqual(err.problems.map((p) => p.key), ["jwtSecretPrevious"]);
        assert.match(err.problems[0].problem, /placeholder/);
        const same = problemsOf(fromEnv(TEST_SECRETS.jwtSecret));
        assert.match(same.problems[0].fix, /to keep none, delete the line JWT_SECRET_PREVIOUS= from \.env/);
    });

    it("pins images: a tag or digest, never latest", () => {
        assert.equal(imageRefProblem("postgres:15.10-bookworm"), undefined);
        assert.equal(imageRefProblem("registry.example.org:5000/team/caddy:2.8.4"), undefined);
        assert.equal(imageRefProblem(`postgres@sha256:${"a".repeat(64)}`), undefined);
        assert.match(imageRefProblem("registry.example.org:5000/caddy") ?? "", /no tag/);
        assert.match(imageRefProblem("caddy:latest") ?? "", /latest/);
        assert.match(imageRefProblem("Not An Image") ?? "", /not a valid image reference/);
    });
});

describe("environment and .env (dotenv-safe)", () => {
    const names = ["POSTGRES_PASSWORD", "JWT_SECRET", "SEED_SUPERADMIN_PASSWORD", "SEED_SUPERADMIN_EMAIL", "JWT_SECRET_PREVIOUS"];
    let saved: Record<string, string | undefined>;
    beforeEach(() => {
        saved = Object.fromEntries(names.map((n) => [n, process.env[n]]));
        for (const n of names) delete process.env[n];
    });
    afterEach(() => {
        for (const n of names) {
            if (saved[n] === undefined) delete process.env[n];
            else process.env[n] = saved[n];
        }
    });

    it("reads the contract's names from .env", () => {
        const dir = makeProjectDir({ envFile: `POSTGRES_PASSWORD=${TEST_SECRETS.postgresPassword}\nSEED_SUPERADMIN_EMAIL=ops@cartie.test\n` });
        const { values, envFile } = readEnvironment(dir);
        assert.equal(envFile, ".env");
        assert.equal(values.POSTGRES_PASSWORD, TEST_SECRETS.postgresPassword);
        assert.equal(values.SEED_SUPERADMIN_EMAIL, "ops@cartie.test");
        assert.equal(values.JWT_SECRET, undefined);
    });

    it("does not fail on names missing from .env: stack config may hold them, validation decides", () => {
        const dir = makeProjectDir({ envFile: "JWT_SECRET=\n" });
        const { values } = readEnvironment(dir);
        assert.equal(values.JWT_SECRET, "");
        const err = problemsOf(mergeSources({}, values));
        const byKey = Object.fromEntries(err.problems.map((p) => [p.key, p]));
        assert.match(byKey.jwtSecret.problem, /empty/);
        assert.match(byKey.postgresPassword.fix, /POSTGRES_PASSWORD=/);
    });

    it("keeps .env.example listing exactly the names the contract reads from the environment", () => {
        const example = fs.readFileSync(path.resolve(__dirname, "../../../.env.example"), "utf8");
        const listed = example
            .split("\n")
            .filter((l) => /^[A-Z_]+=/.test(l))
            .map((l) => l.split("=")[0])
            .sort();
        assert.deepEqual(listed, [...names].sort());
    });
});
