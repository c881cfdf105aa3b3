import * as assert from "node:assert/strict";
import { HostContainer, chooseCommand, discover, judgeProject } from "../../lib/doctor/discover";
import { LABELS } from "../../lib/docker/labels";

const compose = (project: string, service: string, image: string, extra: Partial<HostContainer> = {}): HostContainer => ({
    id: `${project}-${service}`,
    name: `${project}-${service}-1`,
    image,
    state: "running",
    labels: { "com.docker.compose.project": project, "com.docker.compose.service": service },
    publishedPorts: [],
    ...extra,
});
const stackC = (stack: string, component: string, name: string, state = "running"): HostContainer => ({
    id: name,
    name,
    image: `cartie-${stack}-${component}:0123456789abcdef`,
    state,
    labels: { [LABELS.project]: "cartie-platform", [LABELS.stack]: stack, [LABELS.component]: component },
    publishedPorts: component === "proxy" ? [8082] : [],
});
const incident = (project: string): HostContainer[] => [compose(project, "db", "postgres:15.10-bookworm"), compose(project, "api", `${project}-api`), compose(project, "web", `${project}-web`)];
const run = (containers: HostContainer[], o: { legacyFlag?: string; legacyConfig?: string; prisma?: string[]; stack?: string } = {}) =>
    discover({ containers, project: "cartie-platform", stack: o.stack ?? "dev", port: 8082, legacyFlag: o.legacyFlag, legacyConfig: o.legacyConfig, prismaContainers: new Set(o.prisma ?? []) });

describe("doctor discovery", () => {
    it("one compose project that looks like the platform, under any name, is included and said so", () => {
        const d = run(incident("zeta7"), { prisma: ["zeta7-api"] });
        assert.equal(d.legacyProject, "zeta7");
        assert.equal(d.legacySource, "discovered");
        assert.deepEqual(d.located.map((l) => `${l.name}:${l.role}:${l.origin}`), ["zeta7-api-1:api:legacy", "zeta7-db-1:db:legacy", "zeta7-web-1:web:legacy"]);
        assert.deepEqual(d.candidates[0].signals, ["services db, api, web", "a Postgres image (postgres:15.10-bookworm)", "a Prisma api (zeta7-api-1)"]);
    });

    it("several candidates: none is chosen, each is listed with the command that chooses it", () => {
        const d = run([...incident("shopa"), ...incident("shopb")]);
        assert.equal(d.legacyProject, undefined);
        assert.deepEqual(d.candidates.map((c) => c.project), ["shopa", "shopb"]);
        assert.deepEqual(d.located, []);
        assert.equal(chooseCommand("dev", "shopa"), "npm run doctor -- --legacy shopa");
        assert.equal(chooseCommand("prod", "shopa"), "npm run doctor -- --stack prod --legacy shopa");
    });

    it("cartie:legacyComposeProject wins over discovery, --legacy over both", () => {
        const host = [...incident("shopa"), ...incident("shopb")];
        assert.equal(run(host, { legacyConfig: "shopb" }).legacyProject, "shopb");
        assert.equal(run(host, { legacyConfig: "shopb" }).legacySource, "config");
        assert.deepEqual(run(host, { legacyConfig: "shopb" }).located.map((l) => l.name), ["shopb-api-1", "shopb-db-1", "shopb-web-1"]);
        const flagged = run(host, { legacyConfig: "shopb", legacyFlag: "shopa" });
        assert.equal(flagged.legacyProject, "shopa");
        assert.equal(flagged.legacySource, "flag");
        // a named project that is not (or no longer) on the host: nothing else is picked instead
        assert.deepEqual(run(incident("shopa"), { legacyConfig: "gone" }).located, []);
    });

    it("--only-stack: the stack's containers and a named project only, nothing found around them", () => {
        const nginx: HostContainer = { id: "n", name: "nginx-test", image: "nginx:1", state: "running", labels: {}, publishedPorts: [8082] };
        const host = [stackC("dev", "db", "cartie-dev-db"), ...incident("infra2"), nginx];
        const only = discover({ containers: host, project: "cartie-platform", stack: "dev", port: 8082, onlyNamed: true, prismaContainers: new Set() });
        assert.deepEqual(only.located.map((l) => l.name), ["cartie-dev-db"]);
        assert.deepEqual(only.candidates, []);
        assert.equal(discover({ containers: host, project: "cartie-platform", stack: "dev", port: 8082, onlyNamed: true, legacyFlag: "infra2", prismaContainers: new Set() }).located.length, 4);
    });

    it("unrelated compose projects are not the platform: a wordpress with web and db, a lone worker", () => {
        const host = [compose("blog", "web", "wordpress:6"), compose("blog", "db", "mysql:8"), compose("jobs", "worker", "busybox")];
        const d = run(host);
        assert.deepEqual(d.candidates, []);
        assert.deepEqual(d.located, []);
        assert.equal(d.hostContainers, 3);
    });

    it("the stack's containers by label, any number per component (a deploy runs two api containers)", () => {
        const host = [stackC("dev", "api", "cartie-dev-api-1a2b3c4"), stackC("dev", "api", "cartie-dev-api-5d6e7f8", "exited"), stackC("dev", "proxy", "cartie-dev-proxy"), stackC("prod", "db", "cartie-prod-db")];
        const d = run(host);
        assert.deepEqual(d.located.map((l) => `${l.name}:${l.role}`), ["cartie-dev-api-1a2b3c4:api", "cartie-dev-api-5d6e7f8:api", "cartie-dev-proxy:proxy"]);
        assert.deepEqual(d.otherStacks, ["prod"]);
    });

    it("the stack's containers plus one legacy project: both", () => {
        const d = run([stackC("dev", "db", "cartie-dev-db"), ...incident("infra2")]);
        assert.equal(d.legacyProject, "infra2");
        assert.deepEqual(d.located.map((l) => l.origin), ["stack", "legacy", "legacy", "legacy"]);
    });

    it("something else publishing the platform's port is looked at; the stack's own proxy is not 'something else'", () => {
        const nginx: HostContainer = { id: "n", name: "nginx-test", image: "nginx:1", state: "running", labels: {}, publishedPorts: [8082] };
        assert.deepEqual(run([nginx]).located, [{ id: "n", name: "nginx-test", role: "other", origin: "port" }]);
        assert.deepEqual(run([stackC("dev", "proxy", "cartie-dev-proxy")]).located.map((l) => l.origin), ["stack"]);
    });

    it("a compose project publishing the port with one platform-like service is a candidate", () => {
        assert.ok(judgeProject("old", [compose("old", "web", "old-web", { publishedPorts: [8082] })], 8082, new Set()));
        assert.equal(judgeProject("old", [compose("old", "web", "old-web")], 8082, new Set()), undefined);
    });
});
