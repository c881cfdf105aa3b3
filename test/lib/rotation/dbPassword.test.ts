import { strict as assert } from "node:assert";
import { DbStatus, Login, RotationError, RotationHost, alterRoleSql, planRotation, rotateDbPassword, ensurePasswordFile } from "../../../lib/rotation/dbPassword";
import { parseVerifier, verifierMatches } from "../../../lib/rotation/scram";

const ok: Login = { ok: true };
const refused: Login = { ok: false, refused: true, message: 'FATAL:  password authentication failed for user "cartie"' };
const down: Login = { ok: false, refused: false, message: "connection refused" };

describe("db password rotation: planning", () => {
    const cases: Array<[string, Parameters<typeof planRotation>[0], string]> = [
        ["a fresh stack: no db, no file", { db: "absent" }, "write-file"],
        ["no db, file already current", { db: "absent", file: "B" }, "nothing"],
        ["db stopped, old file", { db: "not-running", file: "A" }, "write-file"],
        ["the db accepts the password and the file holds it (a second run)", { db: "running", file: "B", login: ok }, "nothing"],
        ["an existing stack's first run: the db accepts it, no file yet", { db: "running", login: ok }, "write-file"],
        ["killed after ALTER ROLE: the db accepts B, the file still says A", { db: "running", file: "A", login: ok }, "write-file"],
        ["a rotation: the db refuses B", { db: "running", file: "A", login: refused }, "alter-role"],
        ["the db does not answer", { db: "running", file: "A", login: down }, "fail"],
    ];
    for (const [what, observed, kind] of cases) it(`${what} → ${kind}`, () => assert.equal(planRotation(observed, "B").kind, kind));

    it("checks that the previous password stops working only when it is known and differs", () => {
        assert.deepEqual(planRotation({ db: "running", file: "A", login: refused }, "B"), { kind: "alter-role", why: planRotation({ db: "running", login: refused }, "B").why, checkOldRefused: true });
        assert.equal((planRotation({ db: "running", login: refused }, "B") as { checkOldRefused: boolean }).checkOldRefused, false);
    });

    it("ALTER ROLE carries a SCRAM verifier of the password, never the password; the role's name is quoted", () => {
        const sql = alterRoleSql('we"ird', "s3cret'pw");
        assert.ok(!sql.includes("s3cret"));
        const m = /^ALTER ROLE "we""ird" PASSWORD '([^']+)';\n$/.exec(sql);
        assert.ok(m, sql);
        assert.ok(parseVerifier(m[1]));
        assert.ok(verifierMatches(m[1], "s3cret'pw"));
    });
});

/** A database and a volume in memory: the role's password, the file, what ran. */
class FakeHost implements RotationHost {
    calls: string[] = [];
    socketFails?: string;
    /** When set, the role keeps this password whatever ALTER ROLE says (a broken server). */
    stuck?: string;
    constructor(
        public db: DbStatus,
        public rolePassword: string | undefined,
        public file: string | undefined,
    ) {}
    dbStatus(): Promise<DbStatus> {
        return Promise.resolve(this.db);
    }
    readFile(): Promise<string | undefined> {
        return Promise.resolve(this.file);
    }
    writeFile(p: string): Promise<void> {
        this.calls.push("write-file");
        this.file = p;
        return Promise.resolve();
    }
    login(p: string): Promise<Login> {
        this.calls.push("login");
        if (this.db !== "running") return Promise.resolve(down);
        return Promise.resolve(p === this.rolePassword ? ok : refused);
    }
    socketSql(sql: string): Promise<{ ok: true } | { ok: false; message: string }> {
        this.calls.push("alter-role");
        if (this.socketFails) return Promise.resolve({ ok: false, message: this.socketFails });
        const verifier = /PASSWORD '([^']+)'/.exec(sql)?.[1] ?? "";
        // The fake server learns the password only by trying candidates against the verifier, as Postgres would at login.
        this.rolePassword = this.stuck ?? ["A", "B"].find((c) => verifierMatches(verifier, c));
        return Promise.resolve({ ok: true });
    }
}

describe("db password rotation: the step", () => {
    it("rotates A → B: role first, verified (B accepted, A refused), then the file; run again, nothing", async () => {
        const h = new FakeHost("running", "A", "A");
        const log = await rotateDbPassword(h, "cartie", "B");
        assert.deepEqual(h.calls, ["login", "alter-role", "login", "login", "write-file"]);
        assert.equal(h.rolePassword, "B");
        assert.equal(h.file, "B");
        assert.ok(log.some((l) => /refuses the previous password/.test(l)));
        assert.ok(!log.join("\n").includes("B\n") && !log.some((l) => l.includes('"B"')));
        h.calls = [];
        const again = await rotateDbPassword(h, "cartie", "B");
        assert.deepEqual(h.calls, ["login"]);
        assert.match(again[0], /^nothing:/);
    });

    it("killed after ALTER ROLE: the lines so far were shown as they happened; the next run only writes the file", async () => {
        const h = new FakeHost("running", "A", "A");
        const shown: string[] = [];
        await assert.rejects(
            rotateDbPassword(h, "cartie", "B", {
                onLine: (l) => shown.push(l),
                afterAlterRole: () => {
                    throw new Error("killed");
                },
            }),
            /killed/,
        );
        assert.match(shown[shown.length - 1], /^changed the password of role "cartie"/);
        assert.equal(h.rolePassword, "B");
        assert.equal(h.file, "A");
        h.calls = [];
        await rotateDbPassword(h, "cartie", "B");
        assert.deepEqual(h.calls, ["login", "write-file"]);
        assert.equal(h.file, "B");
    });

    it("a fresh stack: only the file", async () => {
        const h = new FakeHost("absent", undefined, undefined);
        await rotateDbPassword(h, "cartie", "B");
        assert.deepEqual(h.calls, ["write-file"]);
    });

    it("a socket that does not trust the role: says so and how to fix it; nothing changes", async () => {
        const h = new FakeHost("running", "A", "A");
        h.socketFails = "psql: error: connection to server on socket failed: fe_sendauth: no password supplied";
        await assert.rejects(rotateDbPassword(h, "cartie", "B"), (e: unknown) => {
            assert.ok(e instanceof RotationError);
            assert.match(e.message, /local socket does not trust role "cartie"/);
            assert.match(e.fix, /pg_hba\.conf.*local all all trust.*or set cartie:postgresPassword back/);
            return true;
        });
        assert.equal(h.file, "A");
        assert.equal(h.rolePassword, "A");
    });

    it("a role that still refuses after ALTER ROLE, or still accepts the old one: fails, the file keeps the old password", async () => {
        const h = new FakeHost("running", "A", "A");
        h.stuck = "A";
        await assert.rejects(rotateDbPassword(h, "cartie", "B"), /still refuses the configured password/);
        assert.equal(h.file, "A");
    });

    it("a db that does not answer: fails before changing anything", async () => {
        const h = new FakeHost("running", "A", "A");
        h.login = () => Promise.resolve(down);
        await assert.rejects(rotateDbPassword(h, "cartie", "B"), (e: unknown) => e instanceof RotationError && /could not be tried/.test(e.message) && /nothing was changed/.test(e.fix));
        assert.equal(h.file, "A");
    });
});

describe("ensurePasswordFile: the step before the db container", () => {
    it("writes the file when there is none (a new data volume is initialised from it)", async () => {
        const host = new FakeHost("absent", undefined, undefined);
        assert.match(await ensurePasswordFile(host, "A"), /^wrote \/run\/cartie\/postgres-password/);
        assert.equal(host.file, "A");
    });

    it("never changes an existing file, even to the configured password: the rotation does that once the db is healthy", async () => {
        const host = new FakeHost("running", "A", "A");
        assert.match(await ensurePasswordFile(host, "B"), /^nothing: the password file exists/);
        assert.equal(host.file, "A");
        assert.deepEqual(host.calls, [], "it touched the database or the file");
    });
});
