import { strict as assert } from "node:assert";
import { dataLocation, legacyCredentials, matchingImage, parseDataMajor, parseServerMajor, planTakeover, renderPlan } from "../../../lib/takeover/plan";
import { container, dataVolume, facts, legacyApi, legacyDb, legacyWeb } from "./fixtures";

describe("takeover plan: versions", () => {
    it("reads the server's major version from `postgres --version`", () => {
        assert.equal(parseServerMajor("postgres (PostgreSQL) 15.10 (Debian 15.10-1.pgdg120+1)"), "15");
        assert.equal(parseServerMajor("postgres (PostgreSQL) 16.4"), "16");
        assert.equal(parseServerMajor("postgres (PostgreSQL) 9.6.24"), "9.6");
        assert.equal(parseServerMajor("sh: postgres: not found"), undefined);
    });

    it("reads the data directory's major version from PG_VERSION", () => {
        assert.equal(parseDataMajor("15\n"), "15");
        assert.equal(parseDataMajor("9.6"), "9.6");
        assert.equal(parseDataMajor("garbage"), undefined);
    });

    it("names the image of the data's major version in the configured repository", () => {
        assert.equal(matchingImage("postgres:15.10-bookworm", "14"), "postgres:14");
        assert.equal(matchingImage("registry.example.org:5000/pg/postgres:16@sha256:" + "a".repeat(64), "15"), "registry.example.org:5000/pg/postgres:15");
        assert.equal(matchingImage("local/postgres:15", "14"), "local/postgres:14");
    });

    it("defaults the legacy user to postgres and the database to the user, as the official image does", () => {
        assert.deepEqual(legacyCredentials({}), { user: "postgres", db: "postgres" });
        assert.deepEqual(legacyCredentials({ POSTGRES_USER: "app" }), { user: "app", db: "app" });
        assert.deepEqual(legacyCredentials({ POSTGRES_USER: "cartie", POSTGRES_DB: "cartie" }), { user: "cartie", db: "cartie" });
    });
});

describe("takeover plan: the incident's host", () => {
    it("plans web, then api, then the db last, saying what happens to each", () => {
        const plan = planTakeover(facts({ passwordAccepted: true }));
        assert.deepEqual(plan.problems, []);
        assert.deepEqual(plan.actions.map((a) => [a.name, a.role]), [
            ["infra2-web-1", "app"],
            ["infra2-api-1", "app"],
            ["infra2-db-1", "db"],
        ]);
        assert.equal(plan.db?.name, "infra2-db-1");
        const text = renderPlan(plan).join("\n");
        assert.match(text, /1\. infra2-web-1 \(running; holds public port 0\.0\.0\.0:8082->8080\/tcp; compose project infra2, service web\): stop and remove/);
        assert.match(text, /3\. infra2-db-1 \(running; mounts data volume infra2_db-data; .*\): back up, then stop .* volume infra2_db-data is kept/);
        assert.match(text, /PostgreSQL 15 data directory, matches postgres:15\.10-bookworm/);
        assert.doesNotMatch(text, /REFUSED/);
    });

    it("refuses a data directory of another major version, naming the matching image", () => {
        const plan = planTakeover(facts({ volume: { exists: true, pgVersion: "14" } }));
        assert.equal(plan.problems.length, 1);
        assert.match(plan.problems[0], /written by PostgreSQL 14 .* postgres:15\.10-bookworm is PostgreSQL 15/);
        assert.match(plan.problems[0], /pulumi config set cartie:postgresImage postgres:14/);
        assert.match(renderPlan(plan).join("\n"), /REFUSED: .*\n {2}nothing was changed/);
    });

    it("refuses a legacy user or database that is not the platform's, naming both", () => {
        const plan = planTakeover(facts({ legacy: [legacyDb({ env: { POSTGRES_USER: "infra", POSTGRES_PASSWORD: "x" } })] }));
        assert.equal(plan.problems.length, 1);
        assert.match(plan.problems[0], /user "infra" and database "infra" .* connect as user "cartie" to database "cartie" .*`pulumi config set cartie:dbUser infra` and `pulumi config set cartie:dbName infra`/);
    });

    it("refuses a configured password the legacy database does not accept", () => {
        const plan = planTakeover(facts({ passwordAccepted: false }));
        assert.match(plan.problems.join("\n"), /refuses cartie:postgresPassword for user "cartie"/);
    });

    it("refuses when the legacy db keeps its data in another volume than cartie:dataVolume (no empty db next to it)", () => {
        const f = facts();
        f.inputs.dataVolume = "cartie-dev-db-data";
        const plan = planTakeover(f);
        assert.match(plan.problems.join("\n"), /infra2-db-1 keeps its Postgres data in volume infra2_db-data, but cartie:dataVolume is cartie-dev-db-data.*pulumi config set cartie:dataVolume infra2_db-data/);
    });

    it("refuses a bind-mounted legacy data directory", () => {
        const db = legacyDb({ mounts: [{ type: "bind", source: "/srv/pg", destination: "/var/lib/postgresql/data" }] });
        assert.match(planTakeover(facts({ legacy: [db] })).problems.join("\n"), /bind mount \(host folder \/srv\/pg at \/var\/lib\/postgresql\/data\), not a Docker volume/);
    });

    it("follows PGDATA below the mount point", () => {
        const db = legacyDb({ env: { POSTGRES_USER: "cartie", PGDATA: "/var/lib/postgresql/data/pgdata" }, mounts: [{ type: "volume", name: "other", source: "", destination: "/var/lib/postgresql/data" }] });
        assert.match(planTakeover(facts({ legacy: [db] })).problems.join("\n"), /volume other, but cartie:dataVolume is infra2_db-data/);
    });

    it("refuses a running container outside the project on the data volume; a stopped one is only noted", () => {
        const stranger = container("someone-else", { mounts: legacyDb().mounts });
        assert.match(planTakeover(facts({ others: [stranger] })).problems.join("\n"), /someone-else \(not part of compose project infra2\) runs on volume infra2_db-data/);
        const stopped = planTakeover(facts({ others: [{ ...stranger, live: false, state: "exited" }] }));
        assert.deepEqual(stopped.problems, []);
        assert.match(stopped.notes.join("\n"), /stopped container someone-else .* never start it again/);
    });

    it("refuses two legacy servers on one data directory", () => {
        const twin = legacyDb({ id: "twin", name: "infra2-db-2" });
        assert.match(planTakeover(facts({ legacy: [legacyDb(), twin] })).problems.join("\n"), /two servers on one data directory/);
    });

    it("reports every problem at once", () => {
        const plan = planTakeover(facts({ volume: { exists: true, pgVersion: "14" }, legacy: [legacyDb({ env: { POSTGRES_USER: "app" } })] }));
        assert.equal(plan.problems.length, 2);
    });
});

describe("takeover plan: partial and finished takeovers", () => {
    it("nothing legacy left: a no-op that says so (the version is still checked)", () => {
        const plan = planTakeover(facts({ legacy: [], others: [container("cartie-dev-db", { mounts: legacyDb().mounts })] }));
        assert.equal(plan.nothingLegacy, true);
        assert.deepEqual(plan.problems, []);
        assert.deepEqual(plan.actions, []);
        assert.match(renderPlan(plan).join("\n"), /nothing legacy left/);
        assert.equal(planTakeover(facts({ legacy: [], volume: { exists: true, pgVersion: "16" } })).problems.length, 1);
    });

    it("the db already gone, apps left: plans only the apps", () => {
        const plan = planTakeover(facts({ legacy: [legacyWeb(), legacyApi()] }));
        assert.deepEqual(plan.problems, []);
        assert.equal(plan.db, undefined);
        assert.deepEqual(plan.actions.map((a) => a.name), ["infra2-web-1", "infra2-api-1"]);
    });

    it("a stopped legacy db is still the db (planned last, not live)", () => {
        const plan = planTakeover(facts({ legacy: [legacyDb({ state: "exited", live: false }), legacyWeb()] }));
        assert.equal(plan.db?.live, false);
        assert.equal(plan.actions[plan.actions.length - 1].role, "db");
    });

    it("a volume that does not exist yet, or holds no data directory, is fine", () => {
        assert.match(planTakeover(facts({ volume: { exists: false } })).notes.join("\n"), /does not exist yet/);
        assert.match(planTakeover(facts({ volume: { exists: true } })).notes.join("\n"), /is empty \(no data directory yet\): the platform's db initialises it/);
    });
});

describe("takeover plan: where the data directory is", () => {
    const inPgdata = legacyDb({ env: { ...legacyDb().env, PGDATA: "/var/lib/postgresql/data/pgdata" } });

    it("a data directory in a folder of the volume (PGDATA below the mount) is found there and must be configured", () => {
        const refused = planTakeover(facts({ legacy: [inPgdata, legacyWeb()], volume: { exists: true, ...dataVolume("15", "pgdata") } }));
        assert.equal(refused.problems.length, 1, refused.problems.join("\n"));
        assert.match(refused.problems[0], /keeps its data directory in pgdata\/ of volume infra2_db-data \(PGDATA=\/var\/lib\/postgresql\/data\/pgdata\), but cartie:pgdataSubdir is unset .*`pulumi config set cartie:pgdataSubdir pgdata`/);
        const f = facts({ legacy: [inPgdata, legacyWeb()], volume: { exists: true, ...dataVolume("15", "pgdata") } });
        f.inputs.pgdataSubdir = "pgdata";
        const plan = planTakeover(f);
        assert.deepEqual(plan.problems, []);
        assert.match(plan.notes.join("\n"), /PostgreSQL 15 data directory in pgdata\/, matches/);
        // The version check is not skipped there: a 14 in pgdata/ is refused.
        f.volume = { exists: true, ...dataVolume("14", "pgdata") };
        assert.match(planTakeover(f).problems.join("\n"), /written by PostgreSQL 14 \(its PG_VERSION in pgdata\/\)/);
    });

    it("the volume mounted above the default data directory: the data is in its data/ folder", () => {
        const db = legacyDb({ mounts: [{ type: "volume", name: "infra2_db-data", source: "", destination: "/var/lib/postgresql" }] });
        assert.deepEqual(dataLocation(db)?.subdir, "data");
        const both = legacyDb({ mounts: [...db.mounts, { type: "volume", name: "anon", source: "", destination: "/var/lib/postgresql/data/" }] });
        assert.equal(dataLocation(both)?.mount.name, "anon", "the deepest mount holds the data");
        assert.equal(dataLocation(legacyDb())?.subdir, "");
    });

    it("refuses a volume whose root is neither a data directory nor the parent of the legacy db's, saying what it holds", () => {
        const plan = planTakeover(facts({ volume: { exists: true, entries: ["backup.tar", "notes"], pgVersions: {} } }));
        assert.equal(plan.problems.length, 1);
        assert.match(plan.problems[0], /infra2_db-data's root is neither a Postgres data directory nor the parent of the one legacy db infra2-db-1 uses \(PGDATA=\/var\/lib\/postgresql\/data, the volume mounted at \/var\/lib\/postgresql\/data\): there is no PG_VERSION at its root, and it holds backup\.tar, notes/);
        // A data directory at the root while the legacy db uses pgdata/ is not where it looks either.
        assert.match(planTakeover(facts({ legacy: [inPgdata], volume: { exists: true, ...dataVolume("15") } })).problems.join("\n"), /no PG_VERSION at pgdata\//);
    });

    it("with the legacy db gone, cartie:pgdataSubdir says where to look, and a data directory elsewhere is named", () => {
        const plan = planTakeover(facts({ legacy: [], volume: { exists: true, ...dataVolume("15", "pgdata") } }));
        assert.match(plan.problems.join("\n"), /cartie:pgdataSubdir names \(the root\).*A data directory is at pgdata\/ of the volume: run `pulumi config set cartie:pgdataSubdir pgdata`/);
        const f = facts({ legacy: [], volume: { exists: true, ...dataVolume("15", "pgdata") } });
        f.inputs.pgdataSubdir = "pgdata";
        assert.deepEqual(planTakeover(f).problems, []);
    });

    it("a bind-mounted data directory is refused with the steps that move it into a volume", () => {
        const db = legacyDb({ image: "postgres:15.4", mounts: [{ type: "bind", source: "/srv/infra2/pgdata", destination: "/var/lib/postgresql/data" }] });
        const [problem] = planTakeover(facts({ legacy: [db, legacyWeb()] })).problems;
        assert.match(problem, /docker stop -t 60 infra2-db-1/);
        assert.match(problem, /docker volume create infra2_db-data/);
        assert.match(problem, /docker run --rm --network none --entrypoint cp -v \/srv\/infra2\/pgdata:\/from:ro -v infra2_db-data:\/to postgres:15\.4 -a \/from\/\. \/to\//);
        assert.match(problem, /npm run takeover:plan -- infra2/);
    });

    it("a legacy user and database of their own are used once configured", () => {
        const db = legacyDb({ env: { POSTGRES_USER: "cartie", POSTGRES_DB: "cartie_prod", POSTGRES_PASSWORD: "x" } });
        const refused = planTakeover(facts({ legacy: [db] }));
        assert.match(refused.problems.join("\n"), /Run `pulumi config set cartie:dbName cartie_prod` so the platform uses what the data holds/);
        assert.doesNotMatch(refused.problems.join("\n"), /config set cartie:dbUser/);
        const f = facts({ legacy: [db], passwordAccepted: false });
        f.inputs.dbName = "cartie_prod";
        const plan = planTakeover(f);
        assert.equal(plan.problems.length, 1);
        assert.match(plan.problems[0], /refuses cartie:postgresPassword for user "cartie"/);
        assert.deepEqual(plan.credentials, { user: "cartie", db: "cartie_prod" });
    });
});
