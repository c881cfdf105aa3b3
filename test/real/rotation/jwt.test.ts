/**
 * Issue 14, proof 3: rotating the JWT secret and the superadmin password on a running platform,
 * on the real engine: each rotation is a change of the stack's secret config and a `pulumi up`
 * (through the Automation API), so the api is rolled by the Release step as a person's
 * `pulumi up` rolls it: real PostgreSQL 15, the sample api built from this tree, Caddy in front.
 *
 * Tokens are checked two ways: through the api (`GET /api/auth/me`), and by verifying their
 * HS256 signature here with node:crypto, so "signed with the new secret only" does not rest on
 * the api's own word.
 */
import { strict as assert } from "node:assert";
import * as crypto from "node:crypto";
import { EngineRun, EngineStack, describeChanges, namesOf } from "../support/engineStack";
import { Cleanup, docker, dockerOk, waitFor } from "../support/run";
import { main as doctor } from "../../../lib/doctor/cli";

const secret = (): string => crypto.randomBytes(24).toString("base64url");

/** Whether `token` is an HS256 JWT whose signature `key` made. */
function signedWith(token: string, key: string): boolean {
    const [header, payload, signature] = token.split(".");
    if (!header || !payload || !signature) return false;
    const alg = (JSON.parse(Buffer.from(header, "base64url").toString("utf8")) as { alg?: string }).alg;
    const expected = crypto.createHmac("sha256", key).update(`${header}.${payload}`).digest("base64url");
    return alg === "HS256" && signature === expected;
}

describe("real: rotating the JWT secret and the superadmin password (issue 14, case 3)", function () {
    const cleanup = new Cleanup();
    let s: EngineStack;
    const S1 = secret();
    const S2 = secret();
    const P1 = secret();
    const P2 = secret();
    const email = "admin@cartie.test";
    const tokens: string[] = [];
    /** Every api container's log, collected before the Release step retires it. */
    let apiLogs = "";
    let T1 = "";
    let T2 = "";

    /** Every `pulumi up`'s output, searched for the secrets at the end. */
    let engineOutput = "";
    /** The stack's secret config becomes `secrets` (keys not given are removed), then `pulumi up`. */
    const up = async (secrets: Record<string, string>): Promise<EngineRun> => {
        const unset = ["cartie:jwtSecretPrevious"].filter((k) => !(k in secrets));
        if (unset.length) await s.removeConfig(unset);
        await s.setSecrets(secrets);
        const result = await s.up();
        engineOutput += `${result.stdout}\n${result.stderr}\n${JSON.stringify(result.diagnostics)}\n`;
        apiLogs += await currentApiLog();
        return result;
    };
    const currentApiLog = async (): Promise<string> => {
        const r = await docker(["logs", await s.containerName("api")]);
        return `${r.stdout}${r.stderr}`;
    };
    const dbIdentity = async (): Promise<string> => (await dockerOk(["inspect", "--format", "{{.Id}} {{.State.StartedAt}}", `${s.prefix}-db`])).trim();
    const login = async (password: string): Promise<{ status: number; token?: string }> => {
        const res = await fetch(`${s.baseUrl}/api/auth/login`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ email, password }) });
        const body = (await res.json()) as { token?: string };
        if (body.token) tokens.push(body.token);
        return { status: res.status, token: body.token };
    };
    const me = async (token: string): Promise<number> => (await fetch(`${s.baseUrl}/api/auth/me`, { headers: { authorization: `Bearer ${token}` } })).status;
    /**
     * An api release as the engine runs it: a new api next to the old (create first, the old one's
     * delete at the end), the Release step's switch, its verification (triggered by the container ids).
     * Nothing else: not the db, not the migration, not the web.
     */
    const assertApiRoll = (r: EngineRun): void => {
        assert.deepEqual([...new Set(r.changes.map((c) => c.name))].sort(), [`${s.prefix}-api`, "release", "verification"].sort(), describeChanges(r));
        assert.deepEqual(
            r.changes.filter((c) => c.name === `${s.prefix}-api`).map((c) => c.op),
            ["create-replacement", "replace", "delete-replaced"],
            describeChanges(r),
        );
        assert.deepEqual(namesOf(r, "update"), ["release"], describeChanges(r));
    };

    before(async function () {
        const t0 = Date.now();
        s = await EngineStack.create(cleanup, { config: { "cartie:releaseHealthTimeout": "120" }, secrets: { "cartie:jwtSecret": S1, "cartie:seedSuperadminPassword": P1 } });
        const first = await up({ "cartie:jwtSecret": S1, "cartie:seedSuperadminPassword": P1 });
        assert.ok(namesOf(first, "create").includes("release"), describeChanges(first));
        console.log(`      first up: ${((Date.now() - t0) / 1000).toFixed(0)} s`);
    });

    after(async () => {
        await cleanup.run();
    });

    it("with S1: the superadmin logs in and gets an HS256 token signed with S1, which /api/auth/me accepts; a wrong password and a forged token are refused", async () => {
        const ok = await login(P1);
        assert.equal(ok.status, 200);
        T1 = ok.token ?? "";
        assert.ok(signedWith(T1, S1), "T1 is not an HS256 token signed with S1");
        assert.equal(await me(T1), 200);
        assert.equal((await login(P2)).status, 401, "a wrong password was accepted");
        assert.equal((await login(P1.slice(0, -1))).status, 401);
        const [h, p] = T1.split(".");
        const forged = `${h}.${p}.${crypto.createHmac("sha256", S2).update(`${h}.${p}`).digest("base64url")}`;
        assert.equal(await me(forged), 401, "a token signed with a secret the api does not hold was accepted");
        assert.equal(await me("not-a-token"), 401);
        assert.equal((await fetch(`${s.baseUrl}/api/auth/me`)).status, 401);
    });

    it("rotated to S2 with jwtSecretPrevious = S1: only the api is rolled (not the db, not the migration); T1 still works; T2 is signed with S2 only; the same config again changes nothing", async () => {
        const dbBefore = await dbIdentity();
        const rotation = await up({ "cartie:jwtSecret": S2, "cartie:jwtSecretPrevious": S1, "cartie:seedSuperadminPassword": P1 });
        assertApiRoll(rotation);
        assert.equal(await dbIdentity(), dbBefore, "the db container was replaced or restarted");

        assert.equal(await me(T1), 200, "a token issued before the rotation was refused while jwtSecretPrevious is set");
        const after = await login(P1);
        assert.equal(after.status, 200);
        T2 = after.token ?? "";
        assert.ok(signedWith(T2, S2), "T2 is not signed with S2");
        assert.ok(!signedWith(T2, S1), "T2 verifies with the previous secret S1");
        assert.equal(await me(T2), 200);
        assert.match(await currentApiLog(), /tokens signed with JWT_SECRET, verified with JWT_SECRET and JWT_SECRET_PREVIOUS/);

        const again = await up({ "cartie:jwtSecret": S2, "cartie:jwtSecretPrevious": S1, "cartie:seedSuperadminPassword": P1 });
        assert.deepEqual(again.changes, [], `a second update with the same config changed something:\n${describeChanges(again)}`);
    });

    it("jwtSecretPrevious removed: T1 is refused (401), T2 still works; idempotent again", async () => {
        const removal = await up({ "cartie:jwtSecret": S2, "cartie:seedSuperadminPassword": P1 });
        assertApiRoll(removal);
        assert.equal(await me(T1), 401, "a token signed with the removed previous secret still works");
        assert.equal(await me(T2), 200);
        assert.match(await currentApiLog(), /verified with JWT_SECRET only/);
        const again = await up({ "cartie:jwtSecret": S2, "cartie:seedSuperadminPassword": P1 });
        assert.deepEqual(again.changes, [], describeChanges(again));
    });

    it("a new seedSuperadminPassword: after the roll the new password logs in and the old one is refused; the api says so once, without the value; the same config again changes nothing", async () => {
        const change = await up({ "cartie:jwtSecret": S2, "cartie:seedSuperadminPassword": P2 });
        assertApiRoll(change);
        const ok = await login(P2);
        assert.equal(ok.status, 200, "the new superadmin password does not log in");
        assert.equal(await me(ok.token ?? ""), 200);
        assert.equal((await login(P1)).status, 401, "the old superadmin password still logs in");
        const log = await currentApiLog();
        assert.equal(log.split("\n").filter((l) => l.endsWith("cartie-api: superadmin password updated from SEED_SUPERADMIN_PASSWORD")).length, 1, log);
        assert.equal(T2 !== "" && (await me(T2)), 200, "a password change must not end sessions signed with the current secret");

        const again = await up({ "cartie:jwtSecret": S2, "cartie:seedSuperadminPassword": P2 });
        assert.deepEqual(again.changes, [], describeChanges(again));
        await s.preview({ expectNoChanges: true });
        // A restart of the same container (same password) finds the hash matching and changes nothing.
        const api = await s.containerName("api");
        await docker(["restart", "-t", "30", api]);
        await waitFor("the restarted api to finish its seed", async () => ((await currentApiLog()).includes("password matches SEED_SUPERADMIN_PASSWORD, left unchanged") ? true : undefined));
        assert.equal((await login(P2)).status, 200);
        apiLogs += await currentApiLog();
    });

    it("no secret and no token in any api log, the doctor's report, any engine output or the state export", async () => {
        const report = { out: "", err: "" };
        await doctor(["--stack", s.stack, "--cwd", s.projectDir, "--only-stack", "--json", "--logs", "200"], (t) => (report.out += t), (t) => (report.err += t));
        assert.ok(report.out.includes(await s.containerName("api")), `the doctor did not look at the api:\n${report.out}${report.err}`);
        // `pulumi stack export` without --show-secrets: the secrets are there, encrypted.
        const state = await s.exportText();
        assert.match(state, /"ciphertext"/, "the state export holds no encrypted value: the check below would look at nothing");
        const values = { S1, S2, P1, P2 };
        for (const [what, text] of [["api logs", apiLogs], ["doctor report", report.out + report.err], ["engine output", engineOutput], ["state export", state]] as const) {
            for (const [name, v] of Object.entries(values)) assert.ok(!text.includes(v), `${what} contain ${name}`);
            for (const t of tokens) assert.ok(!text.includes(t) && !text.includes(t.split(".")[2]), `${what} contain a token`);
        }
    });

});
