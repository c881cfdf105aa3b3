import * as assert from "node:assert/strict";
import { ResourceValidationArgs, ResourceValidationPolicy } from "@pulumi/policy";
import * as policyServer from "@pulumi/policy/server";
import { AnalyzeRequest, AnalyzeResponse, EnforcementLevel } from "@pulumi/pulumi/proto/analyzer_pb";
import { validStackConfig } from "../support/mockRuntime";
import { TYPES } from "../../policies/util";
import { Diagnostic, PackServer } from "./analyzer";
import { LABELS } from "../../lib/docker/labels";
import { PackResource, analyzeRequest, changed, editEnvs, find, leakedSecret, plaintext, programResources, setLabel } from "./support";

describe("cartie-guard through @pulumi/policy's analyzer server", function () {
    this.timeout(30000);
    let pack: PackServer | undefined;
    let resources: PackResource[];
    const get = (type: string, name: string): PackResource => find(resources, type, name);

    function analyze(res: PackResource): Promise<Diagnostic[]> {
        if (!pack) throw new Error("the pack is not running");
        return pack.analyze(res);
    }

    async function analyzeAll(list: PackResource[]): Promise<Diagnostic[]> {
        const all = (await Promise.all(list.map(analyze))).flat();
        assert.equal(leakedSecret(all.map((d) => d.message)), undefined, "a diagnostic printed a secret value");
        return all;
    }

    /**
     * Analyzes the program's resources with one changed and returns the diagnostics on the changed
     * one (the others are the program's own, covered by the valid-config test).
     */
    async function withChanged(type: string, name: string, change: (r: PackResource) => void): Promise<Diagnostic[]> {
        const target = get(type, name);
        const list = resources.map((r) => (r.type === type && r.name === name ? changed(r, change) : r));
        return (await analyzeAll(list)).filter((d) => d.urn === target.urn);
    }

    function configure(levels: Record<string, EnforcementLevel>): Promise<void> {
        if (!pack) throw new Error("the pack is not running");
        return pack.configure(Object.fromEntries(Object.entries(levels).map(([name, level]) => [name, { level }])));
    }

    before(async () => {
        const [{ resources: registered }, started] = await Promise.all([programResources(), PackServer.start()]);
        resources = registered;
        pack = started;
    });

    after(() => pack?.stop());

    it("loads as a policy pack: name, version and the eleven rules, all mandatory but the backup advisory", async () => {
        assert.ok(pack);
        const info = await pack.info();
        assert.equal(info.getName(), "cartie-guard");
        assert.equal(info.getVersion(), "0.1.0");
        const ps = info.getPoliciesList();
        assert.equal(ps.length, 11);
        for (const p of ps) {
            assert.equal(p.getEnforcementlevel(), p.getName() === "backups-before-migrations" ? EnforcementLevel.ADVISORY : EnforcementLevel.MANDATORY, p.getName());
            assert.ok(p.getDescription().length > 20, p.getName());
        }
    });

    it("finds no violation in the resources the program registers with valid config", async () => {
        const diags = await analyzeAll(resources);
        assert.deepEqual(diags, [], diags.map((d) => `${d.policy}: ${d.message}`).join("\n"));
    });

    it("finds no violation either when the program takes over a legacy compose host", async () => {
        const { resources: withTakeover } = await programResources(validStackConfig({ "cartie:legacyComposeProject": "infra2", "cartie:dataVolume": "infra2_db-data" }));
        assert.ok(withTakeover.some((r) => r.name === "legacy-takeover"));
        const diags = await analyzeAll(withTakeover);
        assert.deepEqual(diags, [], diags.map((d) => `${d.policy}: ${d.message}`).join("\n"));
    });

    it("shows a stack without pre-migration backups as an advisory, which does not stop the deploy", async () => {
        const { resources: withoutBackups } = await programResources(validStackConfig({ "cartie:preMigrationBackup": "false" }));
        const diags = await analyzeAll(withoutBackups);
        assert.deepEqual(
            diags.map((d) => [d.policy, d.level]),
            [["backups-before-migrations", "advisory"]],
        );
        assert.match(diags[0].message, /command:Command "migration": pre-migration backups are switched off/);
    });

    it("stops a missing SEED_SUPERADMIN_PASSWORD (the incident) with required-secrets", async () => {
        const diags = await withChanged(TYPES.container, "cartie-dev-api", (r) => editEnvs(r, (l) => l.filter((e) => !e.startsWith("SEED_SUPERADMIN_PASSWORD="))));
        assert.equal(diags.length, 1, diags.map((d) => d.message).join("\n"));
        assert.equal(diags[0].policy, "required-secrets");
        assert.equal(diags[0].level, "mandatory");
        assert.match(diags[0].urn, /Container::cartie-dev-api$/);
        assert.match(diags[0].message, /docker:Container "cartie-dev-api": does not set SEED_SUPERADMIN_PASSWORD.*Fix: run `pulumi config set --secret cartie:seedSuperadminPassword/);
    });

    it("stops a secret passed as plaintext with secrets-are-secret", async () => {
        const diags = await withChanged(TYPES.container, "cartie-dev-api", (r) => {
            plaintext(r);
            r.additionalSecretOutputs = [];
        });
        assert.deepEqual(
            diags.map((d) => d.policy),
            ["secrets-are-secret"],
        );
        assert.match(diags[0].message, /docker:Container "cartie-dev-api": its environment \(envs\) carries DATABASE_URL, JWT_SECRET, SEED_SUPERADMIN_PASSWORD/);
    });

    it("stops a `latest` image with pinned-images", async () => {
        const diags = await withChanged(TYPES.remoteImage, "db-image", (r) => (r.wire.name = "postgres:latest"));
        assert.deepEqual(
            diags.map((d) => d.policy),
            ["pinned-images"],
        );
        assert.match(diags[0].message, /docker:RemoteImage "db-image": name: "postgres:latest" uses the moving tag "latest"/);
    });

    it("stops a published db port with only-the-proxy-is-public", async () => {
        const diags = await withChanged(TYPES.container, "db", (r) => (r.wire.ports = [{ internal: 5432, external: 5432, ip: "0.0.0.0", protocol: "tcp" }]));
        assert.deepEqual(
            diags.map((d) => d.policy),
            ["only-the-proxy-is-public"],
        );
        assert.match(diags[0].message, /docker:Container "db": publishes host port 0\.0\.0\.0:5432->5432/);
    });

    it("stops a proxy published on every interface without TLS with public-proxy-serves-https, and passes it with tls internal and 443", async () => {
        const { resources: exposed } = await programResources(validStackConfig({ "cartie:publicBind": "0.0.0.0" }));
        const proxy = find(exposed, TYPES.container, "proxy");
        const https = (ds: Diagnostic[]): Diagnostic[] => ds.filter((d) => d.policy === "public-proxy-serves-https");
        const plain = https(await analyzeAll(exposed));
        assert.deepEqual(
            plain.map((d) => [d.urn, d.level]),
            [[proxy.urn, "mandatory"]],
        );
        assert.match(plain[0].message, /docker:Container "proxy": is published on 0\.0\.0\.0:8082->80, reachable from other hosts, but serves plain HTTP.*cartie:domain <name>.*cartie:tlsTerminatedBy <lb>/s);
        const withTls = changed(proxy, (r) => {
            setLabel(r, LABELS.tls, "internal");
            r.wire.ports = [...(r.wire.ports as object[]), { internal: 443, external: 443, ip: "0.0.0.0", protocol: "tcp" }];
        });
        assert.deepEqual(https(await analyze(withTls)), []);
        assert.deepEqual(https(await analyze(changed(proxy, (r) => setLabel(r, LABELS.tlsTerminatedBy, "hetzner-lb")))), []);
    });

    it("shows a policy the secret unwrapped: only additionalSecretOutputs tells a secret from plaintext", async () => {
        // Secret on the wire, option dropped: flagged, so the rule cannot have seen the wrapper.
        const wrappedOnly = await analyze(changed(get(TYPES.container, "db"), (r) => (r.additionalSecretOutputs = [])));
        assert.deepEqual(
            wrappedOnly.map((d) => d.policy),
            ["secrets-are-secret"],
        );
        // Plaintext on the wire, option kept: passes. The pack cannot see more than the option.
        assert.deepEqual(await analyze(changed(get(TYPES.container, "db"), plaintext)), []);
    });

    it("lets the policy config change a rule's level (here to advisory), then back", async () => {
        const missing = changed(get(TYPES.container, "cartie-dev-api"), (r) => editEnvs(r, (l) => l.filter((e) => !e.startsWith("JWT_SECRET="))));
        await configure({ "required-secrets": EnforcementLevel.ADVISORY });
        try {
            const diags = await analyze(missing);
            assert.deepEqual(
                diags.map((d) => [d.policy, d.level]),
                [["required-secrets", "advisory"]],
            );
            await configure({ "required-secrets": EnforcementLevel.DISABLED });
            assert.deepEqual(await analyze(missing), []);
        } finally {
            await configure({});
        }
        assert.deepEqual(
            (await analyze(missing)).map((d) => d.level),
            ["mandatory"],
        );
    });
});

/** @pulumi/policy's analyze handler: the function its gRPC server registers for `Analyze`. */
type AnalyzeHandler = (call: { request: AnalyzeRequest }, callback: (err: unknown, resp?: AnalyzeResponse) => void) => Promise<void>;
const server = policyServer as unknown as {
    makeAnalyzeRpcFun: (pack: string, version: string, level: string, policies: ResourceValidationPolicy[]) => AnalyzeHandler;
};

describe("what @pulumi/policy's analyzer hands a policy for a secret input", () => {
    it("the value unwrapped, with no trace of the secret; the options carry additionalSecretOutputs and protect, not retainOnDelete", async () => {
        const { resources } = await programResources();
        const seen: { props: unknown; opts: unknown }[] = [];
        const probe: ResourceValidationPolicy = {
            name: "probe",
            description: "records what a policy receives",
            enforcementLevel: "advisory",
            validateResource: (args: ResourceValidationArgs) => {
                seen.push({ props: JSON.parse(JSON.stringify(args.props)) as unknown, opts: args.opts });
            },
        };
        const handler = server.makeAnalyzeRpcFun("probe-pack", "0.0.0", "advisory", [probe]);
        for (const r of [find(resources, TYPES.container, "cartie-dev-api"), find(resources, TYPES.volume, "db-data")]) {
            await new Promise<void>((resolve, reject) => {
                void handler({ request: analyzeRequest(r) }, (e) => (e ? reject(e instanceof Error ? e : new Error("analyze failed")) : resolve()));
            });
        }
        const [api, volume] = seen as { props: Record<string, unknown>; opts: Record<string, unknown> }[];
        const envs = api.props.envs;
        assert.ok(Array.isArray(envs) && envs.every((e) => typeof e === "string"), "envs arrives as a plain list of strings");
        assert.ok(envs.some((e) => /^SEED_SUPERADMIN_PASSWORD=.+/.test(e)), "with the secret value in clear");
        assert.ok(!JSON.stringify(api.props).includes("4dabf18193072939515e22adb298388d"), "no secret signature survives");
        assert.deepEqual(api.opts.additionalSecretOutputs, ["envs"]);
        assert.equal(volume.opts.protect, true);
        assert.ok(!("retainOnDelete" in volume.opts), "retainOnDelete is not among the options a policy sees");
    });
});
