import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { lastCrash, scanLogLines } from "../../lib/doctor/signatures";

const FIXTURES = path.join(__dirname, "fixtures/prisma-6.19");

/** A captured log as the reader hands it over: non-blank lines. */
function captured(file: string): string[] {
    return fs
        .readFileSync(path.join(FIXTURES, file), "utf8")
        .split(/\r?\n/)
        .filter((l) => l.trim() !== "");
}

const p2021 = (lines: string[]) => scanLogLines(lines).filter((s) => s.code === "P2021");

describe("doctor log signatures", () => {
    describe("captured from the sample api (Prisma 6.19.3, JS engine)", () => {
        const stale = ["uncaught", "console-error", "string", "message", "json", "prisma-log", "server"];
        for (const form of stale) {
            it(`P2021 printed as ${form}: one signature, table public.User`, () => {
                const sigs = p2021(captured(`p2021-stale-${form}.log`));
                assert.equal(sigs.length, 1);
                assert.deepEqual(sigs[0].detail, ["public.User"]);
                assert.equal(sigs[0].unreadable, undefined);
                assert.match(sigs[0].line, /The table `public\.User` does not exist in the current database\./);
            });
        }

        for (const form of ["uncaught", "json"]) {
            it(`P2021 of the current image against an empty database (${form}): table public.users`, () => {
                assert.deepEqual(p2021(captured(`p2021-current-${form}.log`)).map((s) => s.detail), [["public.users"]]);
            });
        }

        it("P1001 from the JS engine names the host, or host:port", () => {
            assert.deepEqual(scanLogLines(captured("unreachable-nohost-uncaught.log")).map((s) => [s.code, s.detail]), [["P1001", ["nodb"]]]);
            assert.deepEqual(scanLogLines(captured("unreachable-refused-console-error.log")).map((s) => [s.code, s.detail]), [["P1001", ["172.18.0.2:5433"]]]);
        });

        for (const form of ["server", "console-error", "uncaught", "migrate-deploy"]) {
            it(`P1000 (a refused password) printed as ${form}: one signature, naming the role`, () => {
                const sigs = scanLogLines(captured(`p1000-auth-${form}.log`));
                assert.deepEqual(sigs.map((s) => [s.code, s.detail]), [["P1000", ["cartie"]]]);
                assert.match(sigs[0].line, /Authentication failed against (the )?database server|password authentication failed/);
                assert.equal(lastCrash(sigs)?.code, "P1000");
            });
        }

        it("Postgres's own words for a refused password (SQLSTATE 28P01), as a pg error or a server log line", () => {
            for (const line of ['error: password authentication failed for user "app"', '2026-12-01 13:11:22.765 UTC [80] FATAL:  password authentication failed for user "app"']) {
                assert.deepEqual(scanLogLines([line]).map((s) => [s.code, s.detail]), [["P1000", ["app"]]], line);
            }
            assert.deepEqual(scanLogLines(["{ code: '28P01' }"]).map((s) => [s.code, s.unreadable]), [["P1000", true]]);
            assert.deepEqual(scanLogLines(["authentication failed: wrong token for /admin"]), []);
        });

        it("the api's missing-variables line", () => {
            assert.deepEqual(scanLogLines(captured("missing-env-server.log")).map((s) => [s.code, s.detail]), [["MISSING_ENV", ["JWT_SECRET", "SEED_SUPERADMIN_PASSWORD", "SEED_SUPERADMIN_EMAIL"]]]);
        });

        it("a crash loop's repeated errors are read as the freshest occurrence", () => {
            const twice = [...captured("p2021-stale-uncaught.log"), ...captured("p2021-stale-uncaught.log")];
            const [s] = p2021(twice);
            assert.deepEqual(s.detail, ["public.User"]);
            assert.ok(s.at >= captured("p2021-stale-uncaught.log").length, "the second crash's lines");
        });
    });

    describe("Prisma's documented wording and the forms around it", () => {
        const cases: [string, string[], string | undefined][] = [
            ["message with backticks (the client runtime's template)", ["The table `public.User` does not exist in the current database."], "public.User"],
            ["message without backticks (the error reference's {table})", ["The table public.User does not exist in the current database."], "public.User"],
            ["message with double quotes", ['The table "User" does not exist in the current database.'], "User"],
            ["code on its own line, message after", ["Error: P2021", "The table `User` does not exist in the current database."], "User"],
            ["Node Error: line with the code and the message", ["Error: P2021: The table `public.User` does not exist in the current database."], "public.User"],
            ["code and meta only, as an inspected error prints them", ["PrismaClientKnownRequestError: query failed", "    at x (/app/a.js:1:1)", "  code: 'P2021',", "  meta: { modelName: 'User', table: 'public.User' },", "  clientVersion: '6.19.3'"], "public.User"],
            ["JSON line with the table in meta", ['{"level":"error","msg":"query failed","code":"P2021","meta":{"modelName":"User","table":"public.User"}}'], "public.User"],
            ["JSON line with the message and escaped newlines", ['{"msg":"\\nInvalid `prisma.user.findFirst()` invocation:\\n\\n\\nThe table `public.User` does not exist in the current database."}'], "public.User"],
            ["the code alone: the table cannot be read", ["PrismaClientKnownRequestError: P2021"], undefined],
            ["a message with an empty table", ["The table `` does not exist in the current database."], undefined],
        ];
        for (const [what, lines, table] of cases) {
            it(what, () => {
                const sigs = p2021(lines);
                assert.equal(sigs.length, 1, JSON.stringify(sigs));
                assert.deepEqual(sigs[0].detail, table ? [table] : []);
                assert.equal(sigs[0].unreadable, table ? undefined : true);
            });
        }

        it("a table name in meta without any P2021 near it is not a P2021", () => {
            assert.deepEqual(p2021(["  meta: { table: 'public.users' }"]), []);
        });

        it("documented P1001 (Rust engine wording with backticks) and the JS engine's", () => {
            assert.deepEqual(scanLogLines(["Error: P1001: Can't reach database server at `db`:`5432`"]).map((s) => s.detail), [["db"]]);
            assert.deepEqual(scanLogLines(["Can't reach database server at `db:5432` Please make sure your database server is running at `db:5432`."]).map((s) => s.detail), [["db:5432"]]);
        });

        it("the last crash is the freshest crash signature", () => {
            const sigs = scanLogLines(["cartie-api: missing required environment variables: JWT_SECRET", "The table `public.User` does not exist in the current database."]);
            assert.equal(lastCrash(sigs)?.code, "P2021");
            assert.equal(lastCrash(scanLogLines(["The table `public.User` does not exist in the current database.", "cartie-api: missing required environment variables: JWT_SECRET"]))?.code, "MISSING_ENV");
        });
    });
});
