import { strict as assert } from "node:assert";
import { DEFAULTS } from "../../../lib/config";
import { chooseImage, configSetLines, shellWord, tagMajor } from "../../../lib/takeover/configPlan";
import { PulumiRunner, takeoverPlanMain } from "../../../lib/takeover/planCli";
import { FakeHost } from "./fakeHost";
import { legacyApi, legacyDb, legacyWeb } from "./fixtures";

const PASSWORD = "Legacy-Secret-4711/x";

interface Ran {
    code: number;
    out: string[];
    err: string[];
    pulumiCalls: { args: string[]; stdin: string; stack?: string }[];
}

async function plan(host: FakeHost, argv: string[], pulumiAnswer: { code: number; stdout: string; stderr: string } = { code: 0, stdout: "", stderr: "" }): Promise<Ran> {
    const ran: Ran = { code: -1, out: [], err: [], pulumiCalls: [] };
    const pulumi: PulumiRunner = (args, stdin, stack) => {
        ran.pulumiCalls.push({ args, stdin, stack });
        return Promise.resolve(pulumiAnswer);
    };
    ran.code = await takeoverPlanMain(argv, { host, pulumi, out: (l) => ran.out.push(l), err: (l) => ran.err.push(l) });
    return ran;
}

const settingLines = (r: Ran): string[] => r.out.filter((l) => l.startsWith("pulumi config set"));

function hostWith(db = legacyDb()): FakeHost {
    const host = new FakeHost();
    host.containers = [{ ...db, env: { ...db.env, POSTGRES_PASSWORD: PASSWORD } }, legacyApi(), legacyWeb()];
    return host;
}

function neverPrinted(r: Ran): void {
    const all = [...r.out, ...r.err, ...r.pulumiCalls.flatMap((c) => c.args)].join("\n");
    assert.ok(!all.includes(PASSWORD) && !all.includes(encodeURIComponent(PASSWORD)), "the password was printed or passed as an argument");
}

describe("takeover:plan", () => {
    it("the incident's layout: the project, the volume and the legacy db's own image, nothing else", async () => {
        const r = await plan(hostWith(), ["infra2"]);
        assert.equal(r.code, 0, r.err.join("\n"));
        assert.deepEqual(settingLines(r), [
            "pulumi config set cartie:legacyComposeProject infra2",
            "pulumi config set cartie:dataVolume infra2_db-data",
            "pulumi config set cartie:postgresImage postgres:15",
        ]);
        assert.match(r.out.join("\n"), /npm run takeover:plan -- infra2 --store-password/);
        assert.deepEqual(r.pulumiCalls, [], "stored something without being asked");
        neverPrinted(r);
    });

    it("a data directory in a folder and a database of its own: the folder and the name are set too, and the result passes the preflight", async () => {
        const db = legacyDb({ env: { POSTGRES_USER: "cartie", POSTGRES_DB: "cartie_prod", PGDATA: "/var/lib/postgresql/data/pgdata" } });
        const host = hostWith(db);
        host.dataSubdir = "pgdata";
        const r = await plan(host, ["infra2", "--stack", "prod"]);
        assert.equal(r.code, 0, r.err.join("\n"));
        assert.deepEqual(settingLines(r), [
            "pulumi config set --stack prod cartie:legacyComposeProject infra2",
            "pulumi config set --stack prod cartie:dataVolume infra2_db-data",
            "pulumi config set --stack prod cartie:postgresImage postgres:15",
            "pulumi config set --stack prod cartie:pgdataSubdir pgdata",
            "pulumi config set --stack prod cartie:dbName cartie_prod",
        ]);
        assert.deepEqual(host.calls, [], "takeover:plan changed something");
    });

    it("--store-password hands the legacy password to `pulumi config set --secret` on stdin only, after the db accepted it", async () => {
        const host = hostWith();
        const r = await plan(host, ["infra2", "--store-password", "--stack", "prod"]);
        assert.equal(r.code, 0, r.err.join("\n"));
        assert.deepEqual(r.pulumiCalls, [{ args: ["config", "set", "--secret", "cartie:postgresPassword"], stdin: PASSWORD, stack: "prod" }]);
        assert.ok(host.calls.includes("checkPassword"));
        assert.match(r.out.join("\n"), /stored the password of infra2-db-1 .*accepted by the running db.* as the secret cartie:postgresPassword of stack prod; not printed/);
        neverPrinted(r);
    });

    it("--store-password stores nothing when the legacy db refuses its own POSTGRES_PASSWORD, or when pulumi fails, and still never prints it", async () => {
        const refusing = hostWith();
        refusing.accepts = false;
        const r = await plan(refusing, ["infra2", "--store-password"]);
        assert.equal(r.code, 1);
        assert.deepEqual(r.pulumiCalls, []);
        assert.match(r.err.join("\n"), /refuses the POSTGRES_PASSWORD in its own environment .*nothing was stored/);
        neverPrinted(r);

        const failing = await plan(hostWith(), ["infra2", "--store-password"], { code: 255, stdout: "", stderr: `error: could not set ${PASSWORD}` });
        assert.equal(failing.code, 1);
        assert.match(failing.err.join("\n"), /failed \(exit 255\): error: could not set \*\*\*; the password was not stored/);
        neverPrinted(failing);
    });

    it("a bind-mounted data directory: no settings, the steps to move it into a volume, exit 1", async () => {
        const r = await plan(hostWith(legacyDb({ mounts: [{ type: "bind", source: "/srv/infra2/pgdata", destination: "/var/lib/postgresql/data" }] })), ["infra2", "--store-password"]);
        assert.equal(r.code, 1);
        assert.deepEqual(settingLines(r), []);
        assert.deepEqual(r.pulumiCalls, []);
        assert.match(r.err.join("\n"), /can't be taken over as it is; nothing was changed:\n {2}- legacy container infra2-db-1 keeps its Postgres data in a bind mount .*docker volume create infra2_db-data/);
    });

    it("a volume that is not a data directory: refused with what it holds", async () => {
        const host = hostWith();
        host.probeVolume = () => Promise.resolve({ entries: ["dump.sql"], pgVersions: {} });
        const r = await plan(host, ["infra2"]);
        assert.equal(r.code, 1);
        assert.deepEqual(settingLines(r), []);
        assert.match(r.err.join("\n"), /root is neither a Postgres data directory nor the parent .* it holds dump\.sql/);
    });

    it("prints the settings but exits 1 when the preflight would still refuse them (a server outside the project on the volume)", async () => {
        const host = hostWith();
        const stranger = { ...legacyDb(), id: "other", name: "someone-else" };
        host.volumeContainers = () => Promise.resolve([...host.containers.filter((c) => c.mounts.length > 0), stranger]);
        const r = await plan(host, ["infra2"]);
        assert.equal(r.code, 1);
        assert.equal(settingLines(r).length, 3);
        assert.match(r.err.join("\n"), /the preflight would refuse these settings: container someone-else \(not part of compose project infra2\) runs on volume infra2_db-data/);
    });

    it("bad input: exit 2 with the usage; an unknown project names how to list them", async () => {
        for (const argv of [[], ["a", "b"], ["Infra2"], ["infra2", "--no-such-flag"]]) assert.equal((await plan(hostWith(), argv)).code, 2, argv.join(" "));
        const none = new FakeHost();
        none.containers = [];
        const r = await plan(none, ["infra3"]);
        assert.equal(r.code, 2);
        assert.match(r.err.join("\n"), /no container is labelled com\.docker\.compose\.project=infra3/);
        const down = new FakeHost();
        down.projectContainers = () => Promise.reject(new Error("Cannot connect to the Docker daemon at unix:///var/run/docker.sock\nmore"));
        const d = await plan(down, ["infra2"]);
        assert.equal(d.code, 2);
        assert.deepEqual(d.err, ["takeover:plan: Cannot connect to the Docker daemon at unix:///var/run/docker.sock"]);
    });

    it("chooses the legacy image when pinned and of the data's major, else the default or its repository at that major", () => {
        assert.equal(chooseImage("postgres:15.4", "15", "15").image, "postgres:15.4");
        assert.equal(chooseImage("postgres:latest", "15", "15").image, DEFAULTS.postgresImage);
        assert.equal(chooseImage("postgres:16", "16", "15").image, DEFAULTS.postgresImage);
        assert.equal(chooseImage("postgres", undefined, "14").image, "postgres:14");
        assert.equal(tagMajor("postgres:15.10-bookworm"), "15");
        assert.equal(tagMajor("postgres:9.6-alpine"), "9.6");
        assert.equal(tagMajor("postgres:latest"), undefined);
        assert.equal(shellWord("it's"), `'it'\\''s'`);
        assert.deepEqual(configSetLines([{ key: "dbName", value: "a b", why: "" }]), ["pulumi config set cartie:dbName 'a b'"]);
    });
});
