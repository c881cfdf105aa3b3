import * as assert from "node:assert/strict";
import { diagnose } from "../../lib/doctor/classify";
import { renderJson, renderText } from "../../lib/doctor/render";
import { ContainerFacts, DOCTOR_SCHEMA_VERSION, DoctorInput, DoctorReport } from "../../lib/doctor/types";

const P2021_UNCAUGHT = [
    "PrismaClientKnownRequestError: ",
    "Invalid `prisma.globalUser.findFirst()` invocation:",
    "The table `public.User` does not exist in the current database.",
    "    at di.handleRequestError (/app/node_modules/@prisma/client/runtime/client.js:81:7268)",
    "  code: 'P2021',",
    "Node.js v18.20.4",
];

function facts(o: Partial<ContainerFacts> & Pick<ContainerFacts, "name" | "role">): ContainerFacts {
    return { id: o.name, origin: "legacy", image: "x", state: "running", restartCount: 0, logLines: [], healthLog: [], envNames: [], ...o };
}

function incidentInput(): DoctorInput {
    return {
        stack: "dev",
        legacyProject: "ops",
        discovery: { legacySource: "discovered", candidates: [{ project: "ops", containers: ["ops-api-1", "ops-db-1"], signals: ["services db, api", "a Postgres image (postgres:15)"] }], otherStacks: [], hostContainers: 2, port: 8082, endpoint: "unix:///var/run/docker.sock" },
        containers: [
            facts({ name: "ops-api-1", role: "api", state: "restarting", restartCount: 9, exitCode: 1, logLines: P2021_UNCAUGHT, envNames: ["DATABASE_URL", "JWT_SECRET", "SEED_SUPERADMIN_PASSWORD", "SEED_SUPERADMIN_EMAIL"] }),
            facts({ name: "ops-db-1", role: "db", image: "postgres:15" }),
        ],
        expected: { apiTag: "0123456789abcdef", baseline: "v41_baseline", migrations: ["v41_baseline"], schemaTables: ["sessions", "users"], requiredApiEnv: ["DATABASE_URL", "JWT_SECRET", "SEED_SUPERADMIN_PASSWORD", "SEED_SUPERADMIN_EMAIL"] },
        probes: [],
        configProblems: [],
        notes: [],
    };
}

/** Every finding of the JSON, in order, as the text numbers it: code, container, cause, effects. */
function assertTextMatchesJson(report: DoctorReport): void {
    const text = renderText(report);
    const json = JSON.parse(renderJson(report)) as DoctorReport;
    assert.equal(json.schemaVersion, DOCTOR_SCHEMA_VERSION);
    const numbered = [...text.matchAll(/^ *(\d+)\. \[(\w+)\] (\w+)(?: (\S+))?\n {4}cause: {5}(.*)$/gm)].map((m) => ({ n: Number(m[1]), severity: m[2], code: m[3], container: m[4], cause: m[5] }));
    assert.deepEqual(
        numbered,
        json.findings.map((f, i) => ({ n: i + 1, severity: f.severity, code: f.code, container: f.container, cause: f.cause })),
    );
    const effects = [...text.matchAll(/^ {4}effect: {4}(.*)$/gm)].map((m) => m[1]);
    assert.deepEqual(effects, json.findings.flatMap((f) => (f.consequences ?? []).map((q) => q.text)));
    assert.equal(/\nHEALTHY/.test(text), json.healthy);
}

describe("doctor output: text and JSON say the same", () => {
    it("the incident found on a host nobody described: same findings, same order, same effects", () => {
        const report = diagnose(incidentInput());
        assert.deepEqual(report.findings.map((f) => f.code), ["STALE_IMAGE", "CONTAINER_MISSING", "CONTAINER_MISSING"]);
        assertTextMatchesJson(report);
        const text = renderText(report);
        assert.match(text.split("\n")[0], /^Cartie doctor: stack "dev" \+ compose project "ops", found on this host \(services db, api; a Postgres image \(postgres:15\)\); nobody named it: pass --legacy ops/);
        assert.match(text, /effect: {4}ops-api-1 restarts in a loop: 9 restarts, last exit code 1/);
        assert.ok(!/table "\?"|`\?`/.test(text), "never a ? for a table");
    });

    it("a healthy report", () => {
        const input = incidentInput();
        input.legacyProject = undefined;
        input.discovery = { ...input.discovery!, candidates: [], hostContainers: 5, legacySource: "none" };
        input.containers = (["db", "api", "web", "proxy", "routes"] as const).map((role) =>
            facts({ name: `cartie-dev-${role}`, role, origin: "stack", health: "healthy", contentTag: role === "api" ? "0123456789abcdef" : undefined, envNames: input.expected.requiredApiEnv }),
        );
        const report = diagnose(input);
        assert.equal(report.healthy, true);
        assertTextMatchesJson(report);
        assert.equal(renderText(report).split("\n")[0], 'Cartie doctor: stack "dev"');
    });

    it("an empty host: one line, and JSON with the one finding", () => {
        const input = incidentInput();
        input.containers = [];
        input.legacyProject = undefined;
        input.discovery = { ...input.discovery!, candidates: [], hostContainers: 0, legacySource: "none" };
        const report = diagnose(input);
        const text = renderText(report);
        assert.equal(text.split("\n").length, 1, text);
        assert.match(text, /^Cartie doctor: the Cartie platform is not deployed here: this Docker host \(unix:\/\/\/var\/run\/docker\.sock\) has no containers at all\. Fix: restore it/);
        assert.deepEqual(report.findings.map((f) => f.code), ["PLATFORM_ABSENT"]);
        assert.equal(report.healthy, false);
    });

    it("an empty host with the stack's secrets missing here: still one line, naming the config keys", () => {
        const input = incidentInput();
        input.containers = [];
        input.legacyProject = undefined;
        input.discovery = { ...input.discovery!, candidates: [], hostContainers: 0, legacySource: "none" };
        input.configProblems = [{ key: "jwtSecret", problem: "missing", fix: "set it" }];
        const text = renderText(diagnose(input));
        assert.equal(text.split("\n").length, 1, text);
        assert.match(text, /Config problems `pulumi up` would stop at: cartie:jwtSecret \(see --json\)\.$/);
    });

    it("a host with unrelated containers: one line naming how many and what was looked for", () => {
        const input = incidentInput();
        input.containers = [];
        input.legacyProject = undefined;
        input.discovery = { ...input.discovery!, candidates: [], hostContainers: 3, legacySource: "none" };
        const text = renderText(diagnose(input));
        assert.equal(text.split("\n").length, 1, text);
        assert.match(text, /none of the 3 containers on this host \(unix:\/\/\/var\/run\/docker\.sock\) is the platform: none labelled for stack "dev", no compose project that looks like it .*, nothing publishing port 8082/);
    });

    it("several candidates: the list of exact commands, no findings", () => {
        const input = incidentInput();
        input.containers = [];
        input.legacyProject = undefined;
        input.discovery = {
            ...input.discovery!,
            legacySource: "none",
            candidates: [
                { project: "a1", containers: [], signals: ["services db, api"] },
                { project: "b2", containers: [], signals: ["services db, web"] },
            ],
        };
        const report = diagnose(input);
        assert.deepEqual(report.findings, []);
        assert.equal(report.healthy, false);
        const text = renderText(report);
        assert.match(text, /^Cartie doctor: no container of stack "dev"; 2 compose projects on this host look like the platform\. Choose one:\n {2}npm run doctor -- --legacy a1 {4}# services db, api\n {2}npm run doctor -- --legacy b2 {4}# services db, web/);
        assert.deepEqual((JSON.parse(renderJson(report)) as DoctorReport).choose?.map((c) => c.command), ["npm run doctor -- --legacy a1", "npm run doctor -- --legacy b2"]);
    });
});
