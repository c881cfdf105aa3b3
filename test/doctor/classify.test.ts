import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { classify, diagnose } from "../../lib/doctor/classify";
import { scanLogLines } from "../../lib/doctor/signatures";
import { ContainerFacts, DoctorInput, FindingCode } from "../../lib/doctor/types";

// Recorded lines, as the incident's containers printed them.
const P2021_LINE =
    "PrismaClientKnownRequestError: Invalid `prisma.user.findFirst()` invocation: The table `public.User` does not exist in the current database. code: 'P2021'";
const P1001_LINE = "Error: P1001: Can't reach database server at `db:5432` Please make sure your database server is running at `db:5432`.";
const P3009_LINE = "Error: P3009 migrate found failed migrations in the target database, new migrations will not be applied.";
const P3005_LINE = "Error: P3005 The database schema is not empty. Read more about how to baseline an existing production database";
const MISSING_LINE = "cartie-api: missing required environment variables: SEED_SUPERADMIN_PASSWORD";
const CADDY_NO_HOST =
    '{"level":"error","ts":1732560000.1,"logger":"http.log.error","msg":"dial tcp: lookup api on 127.0.0.11:53: no such host","request":{"method":"GET","uri":"/api/health"},"duration":0.01,"status":502,"err_id":"x1","err_trace":"reverseproxy.statusError (reverseproxy.go:1269)"}';
const CADDY_REFUSED =
    '{"level":"error","ts":1732560000.2,"logger":"http.log.error","msg":"dial tcp 172.18.0.3:3000: connect: connection refused","request":{"method":"GET","uri":"/api/health"},"status":502}';

const API_TAG = "0123456789abcdef";
const WEB_TAG = "fedcba9876543210";

function container(o: Partial<ContainerFacts> & Pick<ContainerFacts, "name" | "role">): ContainerFacts {
    return {
        id: o.name,
        origin: "stack",
        image: `${o.name}:x`,
        state: "running",
        health: "healthy",
        restartCount: 0,
        uptimeSeconds: 100,
        logLines: [],
        healthLog: [],
        envNames: o.role === "api" ? ["DATABASE_URL", "JWT_SECRET", "SEED_SUPERADMIN_PASSWORD", "SEED_SUPERADMIN_EMAIL", "PATH"] : [],
        contentTag: o.role === "api" ? API_TAG : o.role === "web" ? WEB_TAG : undefined,
        ...o,
    };
}

function healthyInput(): DoctorInput {
    return {
        stack: "dev",
        containers: [
            container({ name: "cartie-dev-db", role: "db" }),
            container({ name: "cartie-dev-api", role: "api" }),
            container({ name: "cartie-dev-web", role: "web" }),
            container({ name: "cartie-dev-proxy", role: "proxy" }),
            container({ name: "cartie-dev-routes-1a2b3c4", role: "routes" }),
        ],
        expected: {
            apiTag: API_TAG,
            webTag: WEB_TAG,
            apiBaseUrl: "http://localhost:8082/api",
            baseline: "v41_baseline",
            migrations: ["v41_baseline", "v42_add_sessions"],
            schemaTables: ["sessions", "users"],
            requiredApiEnv: ["DATABASE_URL", "JWT_SECRET", "SEED_SUPERADMIN_PASSWORD", "SEED_SUPERADMIN_EMAIL"],
        },
        db: {
            container: "cartie-dev-db",
            state: {
                appTables: ["sessions", "users"],
                hasHistoryTable: true,
                history: [
                    { name: "v41_baseline", finished: true, rolledBack: false },
                    { name: "v42_add_sessions", finished: true, rolledBack: false },
                ],
            },
        },
        webBundle: { container: "cartie-dev-web", urls: ["http://localhost:8082/api"], containsExpected: true },
        probes: [{ container: "cartie-dev-proxy", url: "http://127.0.0.1:8082/api/health", status: 200 }],
        configProblems: [],
        notes: [],
    };
}

const codes = (input: DoctorInput): FindingCode[] => classify(input).map((f) => f.code);

function withContainer(input: DoctorInput, name: string, patch: Partial<ContainerFacts>): DoctorInput {
    return { ...input, containers: input.containers.map((c) => (c.name === name ? { ...c, ...patch } : c)) };
}

describe("doctor classifier", () => {
    it("a stack with its routes responder stopped: the proxy has no upstream, and `pulumi up` brings it back", () => {
        const stopped = healthyInput();
        stopped.containers = stopped.containers.map((c) => (c.role === "routes" ? { ...c, state: "exited", exitCode: 137 } : c));
        assert.deepEqual(diagnose(stopped).findings.filter((f) => f.role === "routes").map((f) => f.code), ["CONTAINER_DOWN"]);
    });

    it("reports a healthy platform as healthy, with no findings", () => {
        const report = diagnose(healthyInput());
        assert.deepEqual(report.findings, []);
        assert.equal(report.healthy, true);
        assert.deepEqual(report.migrations?.pending, []);
    });

    describe("recorded log signatures", () => {
        it("recognises each signature and what it names", () => {
            const sigs = scanLogLines([P2021_LINE, P1001_LINE, P3009_LINE, P3005_LINE, MISSING_LINE, CADDY_NO_HOST, CADDY_REFUSED]);
            const by = Object.fromEntries(sigs.map((s) => [s.code, s.detail]));
            assert.deepEqual(by.P2021, ["public.User"]);
            assert.deepEqual(by.P1001, ["db:5432"]);
            assert.deepEqual(by.P3009, []);
            assert.deepEqual(by.P3005, []);
            assert.deepEqual(by.MISSING_ENV, ["SEED_SUPERADMIN_PASSWORD"]);
            assert.deepEqual(by.UPSTREAM_NO_HOST, ["api"]);
            assert.deepEqual(by.UPSTREAM_REFUSED, ["172.18.0.3:3000"]);
            assert.ok(by.HTTP_502);
        });

        it("finds nothing in ordinary lines", () => {
            assert.deepEqual(scanLogLines(["2024-11-25T10:00:00Z cartie-api: listening on :3000 (database db:5432/cartie)", "superadmin created"]), []);
        });

        it("reads several missing variables", () => {
            const [s] = scanLogLines(["cartie-api: missing required environment variables: JWT_SECRET, SEED_SUPERADMIN_PASSWORD"]);
            assert.deepEqual(s.detail, ["JWT_SECRET", "SEED_SUPERADMIN_PASSWORD"]);
        });
    });

    it("P2021 for a table the current schema lacks, in a legacy image: stale image, then the restart loop it causes", () => {
        let input = healthyInput();
        input = {
            ...input,
            legacyProject: "infra2",
            containers: input.containers.map((c) =>
                c.role === "api"
                    ? { ...c, name: "infra2-api-1", origin: "legacy" as const, image: "infra2-api", contentTag: undefined, state: "restarting", health: undefined, restartCount: 14, exitCode: 1, logLines: [P2021_LINE] }
                    : c,
            ),
        };
        const findings = classify(input);
        assert.deepEqual(findings.map((f) => f.code), ["STALE_IMAGE"]);
        assert.equal(findings[0].severity, "error");
        assert.match(findings[0].cause, /infra2-api-1 runs image infra2-api, not built from the current source by this program/);
        assert.match(findings[0].cause, /expects table "User", which the current schema does not have/);
        assert.match(findings[0].pulumiUp, new RegExp(API_TAG));
        assert.deepEqual(findings[0].consequences, [
            { code: "RESTART_LOOP", container: "infra2-api-1", text: "infra2-api-1 restarts in a loop: 14 restarts, last exit code 1", restartCount: 14, exitCode: 1 },
        ]);
    });

    it("a content tag other than the current source's is a stale image even without errors", () => {
        const f = classify(withContainer(healthyInput(), "cartie-dev-api", { contentTag: "aaaaaaaaaaaaaaaa" }));
        assert.equal(f.length, 1);
        assert.equal(f[0].code, "STALE_IMAGE");
        assert.match(f[0].cause, /content tag aaaaaaaaaaaaaaaa, the current source gives 0123456789abcdef/);
    });

    it("P2021 for a table the schema has: migrations not applied, not a stale image", () => {
        const line = "The table `public.sessions` does not exist in the current database.";
        assert.deepEqual(codes(withContainer(healthyInput(), "cartie-dev-api", { logLines: [line] })), ["TABLE_MISSING"]);
    });

    it("missing variable from the api's own line names it and the config key that supplies it", () => {
        const f = classify(withContainer(healthyInput(), "cartie-dev-api", { state: "restarting", restartCount: 5, exitCode: 1, logLines: [MISSING_LINE], envNames: ["DATABASE_URL"] }));
        assert.deepEqual(f.map((x) => x.code), ["MISSING_ENV"]);
        assert.match(f[0].cause, /SEED_SUPERADMIN_PASSWORD/);
        assert.equal(f[0].consequences?.[0].restartCount, 5);
        assert.match(f[0].fix, /pulumi config set --secret cartie:seedSuperadminPassword/);
    });

    it("missing variable seen in the container's environment alone", () => {
        const f = classify(withContainer(healthyInput(), "cartie-dev-api", { envNames: ["DATABASE_URL", "JWT_SECRET", "SEED_SUPERADMIN_EMAIL"] }));
        assert.equal(f[0].code, "MISSING_ENV");
        assert.match(f[0].cause, /variable SEED_SUPERADMIN_PASSWORD,/);
    });

    it("P1001 names the address and says whether the db is running", () => {
        let input = withContainer(healthyInput(), "cartie-dev-api", { logLines: [P1001_LINE] });
        input = withContainer(input, "cartie-dev-db", { state: "exited", exitCode: 1, health: undefined });
        const f = classify({ ...input, db: { container: "cartie-dev-db", error: "not running" } });
        const unreachable = f.find((x) => x.code === "DB_UNREACHABLE");
        assert.ok(unreachable);
        assert.match(unreachable.cause, /at db:5432 \(Prisma P1001\): cartie-dev-db is exited/);
        assert.ok(f.some((x) => x.code === "CONTAINER_DOWN" && x.container === "cartie-dev-db"));
    });

    it("a refused password (the sample api's own log): the password in config and the database's disagree, with the fix", () => {
        const server = fs.readFileSync(path.join(__dirname, "fixtures/prisma-6.19/p1000-auth-server.log"), "utf8").split("\n").filter((l) => l.trim() !== "");
        const input = withContainer(healthyInput(), "cartie-dev-api", { logLines: server, restartCount: 0 });
        const f = classify(input);
        assert.deepEqual(f.map((x) => x.code), ["DB_PASSWORD_MISMATCH"]);
        assert.match(f[0].cause, /cartie-dev-api cannot log in to the database as role "cartie" \(Postgres 28P01, Prisma P1000\): the password in config .* and the database's disagree/);
        assert.match(f[0].fix, /`pulumi up`: its db-password step sets the role's password/);
        assert.match(f[0].fix, /changed by hand, make that the config instead \(`pulumi config set --secret cartie:postgresPassword`/);
        assert.match(f[0].evidence ?? "", /Authentication failed against the database server/);
        // A crash loop on it is read under it, not as a second finding.
        const looping = classify(withContainer(healthyInput(), "cartie-dev-api", { logLines: server, restartCount: 7, state: "restarting" }));
        assert.equal(looping.filter((x) => x.code === "DB_PASSWORD_MISMATCH").length, 1);
        assert.ok(!looping.some((x) => x.code === "RESTART_LOOP"), JSON.stringify(looping));
    });

    it("P3009 and P3005 from logs when the database could not be read", () => {
        const input = { ...withContainer(healthyInput(), "cartie-dev-api", { logLines: [P3005_LINE, P3009_LINE] }), db: { container: "cartie-dev-db", error: "psql failed" } };
        assert.deepEqual(codes(input), ["BASELINE_NEEDED", "MIGRATION_FAILED"]);
    });

    it("from the live history: baseline needed when tables exist without history", () => {
        const input: DoctorInput = { ...healthyInput(), db: { container: "cartie-dev-db", state: { appTables: ["users"], hasHistoryTable: false, history: [] } } };
        const report = diagnose(input);
        assert.deepEqual(report.findings.map((f) => f.code), ["BASELINE_NEEDED", "MIGRATIONS_PENDING"]);
        assert.match(report.findings[0].fix, /migrate resolve --applied v41_baseline/);
        assert.match(report.findings[1].cause, /v42_add_sessions/);
        assert.equal(report.migrations?.baselineNeeded, true);
        assert.deepEqual(report.migrations?.pending, ["v41_baseline", "v42_add_sessions"]);
    });

    it("from the live history: failed (P3009) and unknown migrations", () => {
        const failed: DoctorInput = {
            ...healthyInput(),
            db: { container: "cartie-dev-db", state: { appTables: ["users"], hasHistoryTable: true, history: [{ name: "v41_baseline", finished: true, rolledBack: false }, { name: "v42_add_sessions", finished: false, rolledBack: false }] } },
        };
        assert.deepEqual(codes(failed), ["MIGRATION_FAILED"]);
        assert.deepEqual(diagnose(failed).migrations?.failed, ["v42_add_sessions"]);
        const unknown: DoctorInput = {
            ...healthyInput(),
            db: { container: "cartie-dev-db", state: { appTables: ["users"], hasHistoryTable: true, history: [{ name: "v41_baseline", finished: true, rolledBack: false }, { name: "v43_future", finished: true, rolledBack: false }] } },
        };
        assert.deepEqual(codes(unknown), ["UNKNOWN_MIGRATIONS"]);
        assert.deepEqual(diagnose(unknown).migrations?.unknown, ["v43_future"]);
    });

    it("unhealthy container with the healthcheck's output", () => {
        const f = classify(withContainer(healthyInput(), "cartie-dev-web", { health: "unhealthy", healthLog: ["wget: can't connect to remote host (127.0.0.1): Connection refused"] }));
        assert.deepEqual(f.map((x) => x.code), ["UNHEALTHY"]);
        assert.match(f[0].cause, /last healthcheck: wget: can't connect/);
    });

    it("a restart count at the threshold is a restart loop even while running", () => {
        assert.deepEqual(codes(withContainer(healthyInput(), "cartie-dev-web", { restartCount: 3 })), ["RESTART_LOOP"]);
        assert.deepEqual(codes(withContainer(healthyInput(), "cartie-dev-web", { restartCount: 2 })), []);
    });

    it("proxy 502: upstream does not resolve, pointing at the api's own finding", () => {
        let input = withContainer(healthyInput(), "cartie-dev-proxy", { logLines: [CADDY_NO_HOST] });
        input = withContainer(input, "cartie-dev-api", { state: "exited", exitCode: 1, health: undefined });
        input.probes = [{ container: "cartie-dev-proxy", url: "http://127.0.0.1:8082/api/health", status: 502 }];
        const f = classify(input);
        const proxy = f.find((x) => x.code === "PROXY_502");
        assert.ok(proxy);
        assert.match(proxy.cause, /answers 502 on http:\/\/127.0.0.1:8082\/api\/health: its upstream "api" does not resolve \(.*\) \(see CONTAINER_DOWN above\)/);
        assert.equal(f[f.length - 1].code, "PROXY_502");
    });

    it("proxy 502 from connection refused, seen in logs only", () => {
        const f = classify(withContainer(healthyInput(), "cartie-dev-proxy", { logLines: [CADDY_REFUSED] }));
        assert.deepEqual(f.map((x) => x.code), ["PROXY_502"]);
        assert.match(f[0].cause, /172.18.0.3:3000 refuses connections/);
    });

    it("proxy 502 from the probe alone", () => {
        const input = healthyInput();
        input.probes = [{ container: "cartie-dev-proxy", url: "http://127.0.0.1:8082/", status: 502 }];
        assert.deepEqual(codes(input), ["PROXY_502"]);
    });

    it("web bundle built for another VITE_API_BASE_URL", () => {
        const input = healthyInput();
        input.webBundle = { container: "cartie-dev-web", urls: ["http://localhost:3000/api", "https://example.org"], containsExpected: false };
        const f = classify(input);
        assert.deepEqual(f.map((x) => x.code), ["WEB_API_BASE_MISMATCH"]);
        assert.match(f[0].cause, /built with VITE_API_BASE_URL=http:\/\/localhost:3000\/api, but config says http:\/\/localhost:8082\/api/);
    });

    it("a bundle that could not be read is a note, not a finding", () => {
        const input = healthyInput();
        input.webBundle = { container: "cartie-dev-web", urls: [], containsExpected: false, error: "/srv not found" };
        const report = diagnose(input);
        assert.equal(report.healthy, true);
        assert.deepEqual(report.notes, ["web bundle not inspected: /srv not found"]);
    });

    it("missing components are errors", () => {
        const input = healthyInput();
        input.containers = input.containers.filter((c) => c.role !== "proxy");
        assert.deepEqual(codes(input), ["CONTAINER_MISSING"]);
    });

    it("config problems are warnings: the host can still be healthy", () => {
        const input = healthyInput();
        input.configProblems = [{ key: "seedSuperadminPassword", problem: "missing", fix: "set it" }];
        const report = diagnose(input);
        assert.equal(report.healthy, true);
        assert.equal(report.findings[0].code, "CONFIG_INVALID");
    });

    it("the incident: stale image, missing secret, pending baseline, in that order, then the symptoms", () => {
        const input: DoctorInput = {
            ...healthyInput(),
            legacyProject: "infra2",
            containers: [
                container({ name: "infra2-db-1", role: "db", origin: "legacy", image: "postgres:15" }),
                container({
                    name: "infra2-api-1",
                    role: "api",
                    origin: "legacy",
                    image: "infra2-api",
                    contentTag: undefined,
                    state: "restarting",
                    health: undefined,
                    restartCount: 37,
                    exitCode: 1,
                    envNames: ["DATABASE_URL", "JWT_SECRET", "SEED_SUPERADMIN_EMAIL"],
                    logLines: ["cartie-api: listening on :3000 (database db:5432/cartie)", P2021_LINE],
                }),
                container({ name: "infra2-web-1", role: "web", origin: "legacy", image: "infra2-web", contentTag: undefined, health: "unhealthy", logLines: [CADDY_NO_HOST] }),
            ],
            db: { container: "infra2-db-1", state: { appTables: ["users"], hasHistoryTable: false, history: [] } },
            webBundle: { container: "infra2-web-1", urls: ["http://localhost:3000/api"], containsExpected: false },
            probes: [],
        };
        const report = diagnose(input);
        const order = report.findings.map((f) => `${f.code}:${f.container ?? ""}`);
        assert.equal(report.healthy, false);
        assert.deepEqual(order.slice(0, 3), ["STALE_IMAGE:infra2-api-1", "STALE_IMAGE:infra2-web-1", "MISSING_ENV:infra2-api-1"]);
        const idx = (code: FindingCode): number => report.findings.findIndex((f) => f.code === code);
        assert.ok(idx("MISSING_ENV") < idx("BASELINE_NEEDED"));
        // The loop is the consequence of what the api last died of (P2021), not a finding of its own.
        assert.equal(idx("RESTART_LOOP"), -1);
        assert.equal(report.findings[0].consequences?.[0].restartCount, 37);
        assert.equal(report.findings.find((f) => f.code === "WEB_API_BASE_MISMATCH")?.consequences?.[0].code, "UNHEALTHY");
        assert.ok(report.findings.some((f) => f.code === "CONTAINER_MISSING" && f.role === "proxy"));
        assert.equal(report.findings.find((f) => f.container === "infra2-api-1")?.severity, "error");
        // the legacy web image without P2021 is unverifiable, a warning
        assert.equal(report.findings[1].severity, "warn");
    });
});

describe("doctor classifier: one cause, one finding, on captured Prisma output", () => {
    const dir = path.join(__dirname, "fixtures/prisma-6.19");
    const fixtures = fs.readdirSync(dir).filter((f) => f.startsWith("p2021-"));
    const lines = (f: string): string[] => fs.readFileSync(path.join(dir, f), "utf8").split(/\r?\n/).filter((l) => l.trim() !== "");

    for (const f of fixtures) {
        for (const image of ["legacy", "stale tag", "current tag"] as const) {
            it(`${f}, ${image} image: exactly one finding for the crash, the loop as its effect, no "?"`, () => {
                const patch: Partial<ContainerFacts> = {
                    state: "restarting",
                    health: undefined,
                    restartCount: 6,
                    exitCode: 1,
                    logLines: lines(f),
                    origin: image === "legacy" ? "legacy" : "stack",
                    contentTag: image === "legacy" ? undefined : image === "stale tag" ? "aaaaaaaaaaaaaaaa" : API_TAG,
                };
                const findings = classify(withContainer(healthyInput(), "cartie-dev-api", patch)).filter((x) => x.container === "cartie-dev-api");
                const crash = findings.filter((x) => x.evidence && /does not exist in the current database/.test(x.evidence));
                assert.equal(crash.length, 1, JSON.stringify(findings, null, 1));
                const expected = f.includes("stale") ? "STALE_IMAGE" : "TABLE_MISSING";
                assert.equal(crash[0].code, expected);
                assert.equal(crash[0].consequences?.[0].restartCount, 6);
                assert.ok(!findings.some((x) => x.code === "RESTART_LOOP"));
                assert.ok(findings.every((x) => !/"\?"|`\?`/.test(x.cause)));
                const evidence = findings.map((x) => x.evidence).filter(Boolean);
                assert.equal(new Set(evidence).size, evidence.length, "no evidence twice");
            });
        }
    }

    it("the issue's case: a P2021 whose table cannot be read, in a legacy image: one finding that says which reading and why", () => {
        const input = withContainer(healthyInput(), "cartie-dev-api", { origin: "legacy", contentTag: undefined, state: "restarting", restartCount: 4, exitCode: 1, logLines: ["Error: P2021 (table missing)"] });
        const f = classify(input);
        assert.deepEqual(f.map((x) => x.code), ["STALE_IMAGE"]);
        assert.match(f[0].cause, /the table's name could not be read from the log/);
        assert.match(f[0].reading ?? "", /could not be read, so the image that was not built from the current source is taken as the cause/);
        assert.ok(!JSON.stringify(f).includes('"?"') && !JSON.stringify(f).includes("`?`"));
    });

    it("an unreadable table in an image built from the current source: the database is behind", () => {
        const f = classify(withContainer(healthyInput(), "cartie-dev-api", { logLines: ["  code: 'P2021',"] }));
        assert.deepEqual(f.map((x) => x.code), ["TABLE_MISSING"]);
        assert.match(f[0].reading ?? "", /built from the current source/);
    });

    it("a stopped release next to a healthy one of the same component is SUPERSEDED, not down", () => {
        const input = healthyInput();
        input.containers.push({ ...input.containers[1], id: "old", name: "cartie-dev-api-0ld0000", state: "exited", exitCode: 0, health: undefined });
        const f = classify(input);
        assert.deepEqual(f.map((x) => `${x.code}:${x.severity}`), ["SUPERSEDED:info"]);
        assert.equal(diagnose(input).healthy, true);
    });
});
