import { strict as assert } from "node:assert";
import { chooseCli, cliCandidates } from "../../../lib/restore/cli";
import { planPendingCreates } from "../../../lib/restore/pending";
import { summarizeEvents } from "../../../lib/restore/summary";

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
    it("imports a Docker object that exists under its recorded name (a fixed name would be taken) and forgets the rest", async () => {
        const ops = [
            { type: "creating", resource: { urn: "urn:…::proxy", type: "docker:index/container:Container", inputs: { name: "cartie-dev-proxy" } } },
            { type: "creating", resource: { urn: "urn:…::cartie-dev-api", type: "docker:index/container:Container", inputs: { name: "cartie-dev-api-1a2b3c4" } } },
            { type: "creating", resource: { urn: "urn:…::migration", type: "command:local:Command", inputs: {} } },
            { type: "updating", resource: { urn: "urn:…::release", type: "command:local:Command", inputs: {} } },
        ];
        const plan = await planPendingCreates(ops, (kind, name) => Promise.resolve(kind === "container" && name === "cartie-dev-proxy" ? "4c7e82" : undefined));
        assert.deepEqual(plan.imports, [{ urn: "urn:…::proxy", id: "4c7e82", what: "container cartie-dev-proxy" }]);
        assert.deepEqual(plan.cleared, ["urn:…::cartie-dev-api", "urn:…::migration"], "an update in flight is the engine's to settle, not a pending create");
    });
});

describe("what an update changed, from the engine's event log", () => {
    const ev = (op: string, name: string, diffs?: string[]): string => JSON.stringify({ resourcePreEvent: { metadata: { op, urn: `urn:pulumi:dev::cartie-platform::x::${name}`, diffs } } });
    it("one line per kind of change with the inputs that caused it; a replacement counted once", () => {
        const log = [ev("same", "db"), ev("create-replacement", "cartie-dev-api", ["image"]), ev("replace", "cartie-dev-api", ["image", "envs"]), ev("delete-replaced", "cartie-dev-api"), ev("update", "release", ["environment"]), ev("create", "cartie-dev-web"), "not json"].join("\n");
        assert.deepEqual(summarizeEvents(log).lines, ["replaced: cartie-dev-api (envs, image)", "updated: release (environment)", "created: cartie-dev-web"]);
        assert.deepEqual(summarizeEvents(ev("same", "db")).lines, ["nothing changed: the host already matched the program"]);
    });
    it("names the resources whose step failed", () => {
        const failed = JSON.stringify({ resOpFailedEvent: { metadata: { op: "create", urn: "urn:pulumi:dev::cartie-platform::x::db-ready" } } });
        assert.deepEqual(summarizeEvents(failed).failed, ["db-ready"]);
    });
});
