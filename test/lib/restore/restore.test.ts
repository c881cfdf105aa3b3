import { strict as assert } from "node:assert";
import { chooseCli, cliCandidates } from "../../../lib/restore/cli";
import { planPendingCreates } from "../../../lib/restore/pending";
import { LoggedEvent, summarizeEvents } from "../../../lib/restore/summary";

describe("finding the Pulumi CLI for npm run restore", () => {
    it("the one on PATH first, then Pulumi's homes, then an install only when the internet answers, else one line saying how", () => {
        const home = "/home/u";
        assert.deepEqual(cliCandidates("3.248.0", {}, home), ["/home/u/.pulumi/bin/pulumi", "/home/u/.pulumi/versions/3.248.0/bin/pulumi"]);
        assert.deepEqual(cliCandidates("3.248.0", { PULUMI_HOME: "/opt/pulumi" }, home)[0], "/opt/pulumi/bin/pulumi");
        const none = (): boolean => false;
        assert.deepEqual(chooseCli("3.248.0", { pathVar: "/nonexistent", home, online: false, exists: (p) => p === "/home/u/.pulumi/bin/pulumi" }), { kind: "found", command: "/home/u/.pulumi/bin/pulumi", where: "in /home/u/.pulumi" });
        assert.deepEqual(chooseCli("3.248.0", { pathVar: "/nonexistent", home, online: true, exists: none }), { kind: "install", version: "3.248.0", root: "/home/u/.pulumi/versions/3.248.0" });
        const missing = chooseCli("3.248.0", { pathVar: "/nonexistent", home, online: false, exists: none });
        assert.equal(missing.kind, "missing");
        assert.match(missing.kind === "missing" ? missing.message : "", /^no Pulumi CLI on PATH and get\.pulumi\.com does not answer: install Pulumi v3\.248\.0 .*PULUMI_HOME/);
        assert.ok(!(missing.kind === "missing" && missing.message.includes("\n")), "one line");
    });
});

describe("what an interrupted update was creating", () => {
    it("removes the containers and networks this stack made (a fixed name would be taken), never a volume, and stops on a name that is not this stack's", async () => {
        const op = (urn: string, type: string, name?: string) => ({ type: "creating", resource: { urn, type, inputs: name ? { name } : {} } });
        const ops = [
            op("urn:…::proxy", "docker:index/container:Container", "cartie-dev-proxy"),
            op("urn:…::cartie-dev-api", "docker:index/container:Container", "cartie-dev-api-1a2b3c4"),
            op("urn:…::network", "docker:index/network:Network", "cartie-dev-net"),
            op("urn:…::db-data", "docker:index/volume:Volume", "cartie-dev-db-data"),
            op("urn:…::migration", "command:local:Command"),
            { type: "updating", resource: { urn: "urn:…::release", type: "command:local:Command", inputs: {} } },
        ];
        const exists: Record<string, { ours: boolean }> = { "container cartie-dev-proxy": { ours: true }, "network cartie-dev-net": { ours: true }, "volume cartie-dev-db-data": { ours: true } };
        const plan = await planPendingCreates(ops, (kind, name) => Promise.resolve(exists[`${kind} ${name}`]));
        assert.deepEqual(plan.remove, [{ kind: "container", name: "cartie-dev-proxy" }, { kind: "network", name: "cartie-dev-net" }]);
        assert.deepEqual(plan.conflicts, []);
        assert.deepEqual(plan.cleared, ["urn:…::proxy", "urn:…::cartie-dev-api", "urn:…::network", "urn:…::db-data", "urn:…::migration"], "an update in flight is the engine's to settle, not a pending create");
        const foreign = await planPendingCreates([ops[0]], () => Promise.resolve({ ours: false }));
        assert.deepEqual(foreign.conflicts, [{ kind: "container", name: "cartie-dev-proxy" }]);
        assert.deepEqual(foreign.remove, []);
    });
});

describe("what an update changed, from the engine's event log", () => {
    const ev = (op: string, name: string, diffs?: string[], type = "docker:index/container:Container"): LoggedEvent => ({ resourcePreEvent: { metadata: { op, urn: `urn:pulumi:dev::cartie-platform::x::${name}`, type, diffs } } });
    it("one line per kind of change with the inputs that caused it; a replacement counted once", () => {
        const log = [ev("same", "db"), ev("create-replacement", "cartie-dev-api", ["image"]), ev("replace", "cartie-dev-api", ["image", "envs"]), ev("delete-replaced", "cartie-dev-api"), ev("update", "release", ["environment"]), ev("create", "cartie-dev-web"), ev("create", "web", [], "cartie:platform:Web"), ev("create", "default_5_2_0", [], "pulumi:providers:docker"), {}];
        assert.deepEqual(summarizeEvents(log).lines, ["replaced: cartie-dev-api (envs, image)", "updated: release (environment)", "created: cartie-dev-web"]);
        assert.deepEqual(summarizeEvents([ev("same", "db")]).lines, ["nothing changed: the host already matched the program"]);
    });
    it("names the resources whose step failed, with the engine's error for each (not its closing 'update failed')", () => {
        const failed: LoggedEvent = { resOpFailedEvent: { metadata: { op: "create", urn: "urn:pulumi:dev::cartie-platform::x::db-ready" } } };
        const error: LoggedEvent = { diagnosticEvent: { severity: "error", urn: "urn:pulumi:dev::cartie-platform::x::db-ready", message: "the database is not healthy\n  db container cartie-dev-db is unhealthy\n" } };
        const closing: LoggedEvent = { diagnosticEvent: { severity: "error", urn: "urn:pulumi:dev::cartie-platform::pulumi:pulumi:Stack::cartie-platform-dev", message: "update failed" } };
        const summary = summarizeEvents([failed, error, closing]);
        assert.deepEqual(summary.failed, ["db-ready"]);
        assert.deepEqual(summary.errors, [{ resource: "db-ready", message: "the database is not healthy\n  db container cartie-dev-db is unhealthy" }]);
    });
});
