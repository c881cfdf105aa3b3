/**
 * Issue 14, proof 3: rotating the JWT secret and the superadmin password on a running platform,
 * through the program's registered inputs (each rotation is a new evaluation of the program) and
 * the engine's steps (test/real/support/engine.ts), so the api is rolled by the Release step as
 * `pulumi up` rolls it: real PostgreSQL 15, the sample api built from this tree, Caddy in front.
 *
 * Tokens are checked two ways: through the api (`GET /api/auth/me`), and by verifying their
 * HS256 signature here with node:crypto, so "signed with the new secret only" does not rest on
 * the api's own word.
 */
import { strict as assert } from "node:assert";
import * as crypto from "node:crypto";
import { DeployStack } from "../support/deployStack";
import { UpResult } from "../support/engine";
import { Cleanup, docker, waitFor } from "../support/run";
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
    let d: DeployStack;
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

    const up = async (config: Record<string, string>): Promise<UpResult> => {
        const result = await d.engine.up(await d.evaluate("v1", config));
        apiLogs += await currentApiLog();
        return result;
    };
    const currentApiLog = async (): Promise<string> => {
        const r = await docker(["logs", d.container("api")]);
        return `${r.stdout}${r.stderr}`;
    };
    const login = async (password: string): Promise<{ status: number; token?: string }> => {
        const res = await fetch(`${d.baseUrl}/api/auth/login`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ email, password }) });
        const body = (await res.json()) as { token?: string };
        if (body.token) tokens.push(body.token);
        return { status: res.status, token: body.token };
    };
    const me = async (token: string): Promise<number> => (await fetch(`${d.baseUrl}/api/auth/me`, { headers: { authorization: `Bearer ${token}` } })).status;
    const apiSteps = (r: UpResult): string[] => r.steps.filter((s) => !s.includes(`${d.prefix}-web`));
    /** The steps of an api release: a new api next to the old, the switch, the verification (its trigger is the container ids), the old api retired. */
    const apiRoll = (): string[] => [
        `replace (create first) ${d.prefix}-api`,
        "update release",
        "replace verification",
        "delete replaced verification",
        `delete replaced ${d.prefix}-api: retained (left on the host, dropped from state)`,
    ];

    before(async function () {
        d = await DeployStack.create(cleanup);
        const first = await up({ "cartie:jwtSecret": S1, "cartie:seedSuperadminPassword": P1 });
        assert.ok(first.steps.includes("create release"), first.steps.join("\n"));
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
        assert.equal((await fetch(`${d.baseUrl}/api/auth/me`)).status, 401);
    });

    it("rotated to S2 with jwtSecretPrevious = S1: only the api is rolled (not the db, not the migration); T1 still works; T2 is signed with S2 only; the same config again changes nothing", async () => {
        const dbBefore = d.container("db");
        const rotation = await up({ "cartie:jwtSecret": S2, "cartie:jwtSecretPrevious": S1, "cartie:seedSuperadminPassword": P1 });
        assert.deepEqual(apiSteps(rotation), apiRoll(), rotation.steps.join("\n"));
        assert.equal(d.container("db"), dbBefore);

        assert.equal(await me(T1), 200, "a token issued before the rotation was refused while jwtSecretPrevious is set");
        const after = await login(P1);
        assert.equal(after.status, 200);
        T2 = after.token ?? "";
        assert.ok(signedWith(T2, S2), "T2 is not signed with S2");
        assert.ok(!signedWith(T2, S1), "T2 verifies with the previous secret S1");
        assert.equal(await me(T2), 200);
        assert.match(await currentApiLog(), /tokens signed with JWT_SECRET, verified with JWT_SECRET and JWT_SECRET_PREVIOUS/);

        const again = await up({ "cartie:jwtSecret": S2, "cartie:jwtSecretPrevious": S1, "cartie:seedSuperadminPassword": P1 });
        assert.deepEqual(again.steps, [], "a second update with the same config changed something");
    });

    it("jwtSecretPrevious removed: T1 is refused (401), T2 still works; idempotent again", async () => {
        const removal = await up({ "cartie:jwtSecret": S2, "cartie:seedSuperadminPassword": P1 });
        assert.ok(removal.steps.includes(`replace (create first) ${d.prefix}-api`), removal.steps.join("\n"));
        assert.equal(await me(T1), 401, "a token signed with the removed previous secret still works");
        assert.equal(await me(T2), 200);
        assert.match(await currentApiLog(), /verified with JWT_SECRET only/);
        assert.deepEqual((await up({ "cartie:jwtSecret": S2, "cartie:seedSuperadminPassword": P1 })).steps, []);
    });

    it("a new seedSuperadminPassword: after the roll the new password logs in and the old one is refused; the api says so once, without the value; the same config again changes nothing", async () => {
        const change = await up({ "cartie:jwtSecret": S2, "cartie:seedSuperadminPassword": P2 });
        assert.deepEqual(apiSteps(change), apiRoll(), change.steps.join("\n"));
        const ok = await login(P2);
        assert.equal(ok.status, 200, "the new superadmin password does not log in");
        assert.equal(await me(ok.token ?? ""), 200);
        assert.equal((await login(P1)).status, 401, "the old superadmin password still logs in");
        const log = await currentApiLog();
        assert.equal(log.split("\n").filter((l) => l.endsWith("cartie-api: superadmin password updated from SEED_SUPERADMIN_PASSWORD")).length, 1, log);
        assert.equal(T2 !== "" && (await me(T2)), 200, "a password change must not end sessions signed with the current secret");

        assert.deepEqual((await up({ "cartie:jwtSecret": S2, "cartie:seedSuperadminPassword": P2 })).steps, []);
        // A restart of the same container (same password) finds the hash matching and changes nothing.
        const api = d.container("api");
        await docker(["restart", "-t", "30", api]);
        await waitFor("the restarted api to finish its seed", async () => ((await currentApiLog()).includes("password matches SEED_SUPERADMIN_PASSWORD, left unchanged") ? true : undefined));
        assert.equal((await login(P2)).status, 200);
        apiLogs += await currentApiLog();
    });

    it("no secret and no token in any api log or in the doctor's report", async () => {
        const report = { out: "", err: "" };
        await doctor(["--stack", d.stack, "--only-stack", "--json", "--logs", "200"], (s) => (report.out += s), (s) => (report.err += s));
        assert.ok(report.out.includes(d.container("api")), `the doctor did not look at the api:\n${report.out}${report.err}`);
        const values = { S1, S2, P1, P2 };
        for (const [what, text] of [["api logs", apiLogs], ["doctor report", report.out + report.err]] as const) {
            for (const [name, v] of Object.entries(values)) assert.ok(!text.includes(v), `${what} contain ${name}`);
            for (const t of tokens) assert.ok(!text.includes(t) && !text.includes(t.split(".")[2]), `${what} contain a token`);
        }
    });

});
