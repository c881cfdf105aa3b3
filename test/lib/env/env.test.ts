import { strict as assert } from "node:assert";
import { MASK, apiEnvironment, databaseUrl, dbDataLayout, dbEnvironment, looksSecretName, maskSecrets, toEnvList } from "../../../lib/env";
import { validateConfig } from "../../../lib/config";
import { TEST_SECRETS, makeProjectDir } from "../../support/mockRuntime";

describe("environment assembly", () => {
    it("percent-encodes the password in DATABASE_URL", () => {
        const url = databaseUrl("p@ss:w/rd?#%");
        assert.equal(url, "postgresql://cartie:p%40ss%3Aw%2Frd%3F%23%25@db:5432/cartie?schema=public");
        assert.equal(decodeURIComponent(new URL(url).password), "p@ss:w/rd?#%");
    });

    it("gives the api every variable it refuses to start without", () => {
        const cfg = validateConfig(
            Object.fromEntries(
                Object.entries({ seedSuperadminEmail: "admin@cartie.test", ...TEST_SECRETS }).map(([k, v]) => [k, { value: v, source: "stack" as const, encrypted: true }]),
            ),
            { projectDir: makeProjectDir(), stack: "dev", project: "cartie-platform" },
        );
        const env = apiEnvironment(cfg);
        assert.deepEqual(Object.keys(env).sort(), ["DATABASE_URL", "JWT_SECRET", "NODE_ENV", "PORT", "SEED_SUPERADMIN_EMAIL", "SEED_SUPERADMIN_PASSWORD"]);
        assert.equal(env.JWT_SECRET, TEST_SECRETS.jwtSecret);
        assert.equal(new URL(env.DATABASE_URL).hostname, "db");
        assert.deepEqual(toEnvList({ B: "2", A: "1" }), ["A=1", "B=2"]);
    });

    it("passes JWT_SECRET_PREVIOUS next to JWT_SECRET only while cartie:jwtSecretPrevious is set (absent, not empty, otherwise)", () => {
        const raw = (extra: Record<string, string>) =>
            Object.fromEntries(
                Object.entries({ seedSuperadminEmail: "admin@cartie.test", ...TEST_SECRETS, ...extra }).map(([k, v]) => [k, { value: v, source: "stack" as const, encrypted: true }]),
            );
        const opts = { projectDir: makeProjectDir(), stack: "dev", project: "cartie-platform" };
        const previous = `previous-${TEST_SECRETS.jwtSecret}`;
        const rotating = apiEnvironment(validateConfig(raw({ jwtSecretPrevious: previous }), opts));
        assert.equal(rotating.JWT_SECRET_PREVIOUS, previous);
        assert.equal(rotating.JWT_SECRET, TEST_SECRETS.jwtSecret);
        assert.ok(!("JWT_SECRET_PREVIOUS" in apiEnvironment(validateConfig(raw({}), opts))));
        assert.ok(looksSecretName("JWT_SECRET_PREVIOUS"), "the doctor and the masking would not treat it as a secret");
    });

    it("uses the configured db user and name in DATABASE_URL and the db's environment; the defaults give what they always gave", () => {
        const base = Object.fromEntries(
            Object.entries({ seedSuperadminEmail: "admin@cartie.test", ...TEST_SECRETS }).map(([k, v]) => [k, { value: v, source: "stack" as const, encrypted: true }]),
        );
        const opts = { projectDir: makeProjectDir(), stack: "dev", project: "cartie-platform" };
        const plain = validateConfig(base, opts);
        assert.equal(apiEnvironment(plain).DATABASE_URL, databaseUrl(TEST_SECRETS.postgresPassword));
        assert.deepEqual(Object.keys(dbEnvironment(plain)).sort(), ["POSTGRES_DB", "POSTGRES_USER"], "no PGDATA for a volume used at its root, and never the password (the db-password step owns it)");
        const own = validateConfig({ ...base, dbUser: { value: "app", source: "stack" }, dbName: { value: "cartie_prod", source: "stack" }, pgdataSubdir: { value: "pgdata", source: "stack" } }, opts);
        const url = new URL(apiEnvironment(own).DATABASE_URL);
        assert.deepEqual([url.username, url.pathname, url.hostname], ["app", "/cartie_prod", "db"]);
        assert.equal(decodeURIComponent(url.password), TEST_SECRETS.postgresPassword);
        assert.deepEqual(dbEnvironment(own), { POSTGRES_USER: "app", POSTGRES_DB: "cartie_prod", PGDATA: "/var/lib/postgresql/data/pgdata" });
    });

    it("mounts the volume at the image's data directory and points PGDATA at the folder holding the data", () => {
        assert.deepEqual(dbDataLayout(""), { mountTarget: "/var/lib/postgresql/data" });
        assert.deepEqual(dbDataLayout("pgdata"), { mountTarget: "/var/lib/postgresql/data", pgdata: "/var/lib/postgresql/data/pgdata" });
        assert.deepEqual(dbDataLayout("/data/"), { mountTarget: "/var/lib/postgresql/data", pgdata: "/var/lib/postgresql/data/data" });
    });

    it("masks known secrets, their encoded forms and URL passwords", () => {
        const secret = "s3cr3t/with@chars";
        const text = `password=${secret} url=postgresql://cartie:${encodeURIComponent(secret)}@db:5432/cartie other=postgresql://u:unknownpw@h/db`;
        const masked = maskSecrets(text, [secret]);
        assert.ok(!masked.includes(secret) && !masked.includes(encodeURIComponent(secret)));
        assert.ok(!masked.includes("unknownpw"));
        assert.equal(masked, `password=${MASK} url=postgresql://cartie:${MASK}@db:5432/cartie other=postgresql://u:${MASK}@h/db`);
    });

    it("knows which names look secret", () => {
        for (const n of ["POSTGRES_PASSWORD", "JWT_SECRET", "API_TOKEN", "AWS_ACCESS_KEY_ID", "private_key"]) assert.ok(looksSecretName(n), n);
        for (const n of ["NODE_ENV", "PORT", "VITE_API_BASE_URL", "SEED_SUPERADMIN_EMAIL"]) assert.ok(!looksSecretName(n), n);
    });
});
