import { strict as assert } from "node:assert";
import { platformProgram } from "../../components/program";
import { LABELS } from "../../lib/docker/labels";
import { ProgramError, ProgramRun, changed, makeProjectDir, runProgram, validStackConfig, TEST_DAEMON } from "../support/mockRuntime";

const CONTAINER = "docker:index/container:Container";
const COMMAND = "command:local:Command";
const VOLUME = "docker:index/volume:Volume";

const evaluate = (dir: string, config: Record<string, string | undefined>): Promise<ProgramRun> =>
    runProgram(() => ({ ...platformProgram(dir, { daemon: TEST_DAEMON }) }), { config: validStackConfig(config) });

/** The test domain with Caddy's internal CA on unprivileged ports, as the real proof runs it. */
const INTERNAL = { "cartie:domain": "cartie.test", "cartie:tls": "internal", "cartie:httpPort": "18080", "cartie:httpsPort": "18443" };

async function failure(config: Record<string, string | undefined>): Promise<ProgramError> {
    try {
        await evaluate(makeProjectDir(), config);
    } catch (err) {
        if (err instanceof ProgramError) return err;
        throw err;
    }
    return assert.fail("the program did not fail");
}

describe("HTTPS for a domain, under the mock runtime", () => {
    let run: ProgramRun;
    before(async () => {
        run = await evaluate(makeProjectDir(), INTERNAL);
    });

    it("publishes Caddy's HTTP and HTTPS ports as themselves on publicBind, and labels the proxy with its TLS mode and names", () => {
        const proxy = run.one(CONTAINER, "proxy");
        assert.deepEqual(proxy.inputs.ports, [
            { external: 18080, internal: 18080, ip: "127.0.0.1", protocol: "tcp" },
            { external: 18443, internal: 18443, ip: "127.0.0.1", protocol: "tcp" },
        ]);
        const labels = Object.fromEntries((proxy.inputs.labels as Array<{ label: string; value: string }>).map((l) => [l.label, l.value]));
        assert.equal(labels[LABELS.tls], "internal");
        assert.equal(labels[LABELS.domains], "cartie.test");
        assert.equal(labels[LABELS.tlsTerminatedBy], undefined);
        assert.deepEqual(proxy.inputs.envs, ["XDG_CONFIG_HOME=/config", "XDG_DATA_HOME=/data"]);
    });

    it("keeps Caddy's data and config in volumes nothing here deletes, mounted at /data and /config", () => {
        const volumes = run.byType(VOLUME).filter((v) => v.name.startsWith("proxy-"));
        assert.deepEqual(volumes.map((v) => [v.name, v.inputs.name, v.protect, v.retainOnDelete]), [
            ["proxy-data", "cartie-dev-caddy-data", true, true],
            ["proxy-config", "cartie-dev-caddy-config", true, true],
        ]);
        assert.deepEqual(run.one(CONTAINER, "proxy").inputs.mounts, [
            { source: "cartie-dev-caddy-data", target: "/data", type: "volume" },
            { source: "cartie-dev-caddy-config", target: "/config", type: "volume" },
        ]);
        const component = (v: string): string | undefined =>
            (run.one(VOLUME, v).inputs.labels as Array<{ label: string; value: string }>).find((l) => l.label === LABELS.component)?.value;
        assert.deepEqual([component("proxy-data"), component("proxy-config")], ["proxy-data", "proxy-config"]);
    });

    it("derives publicUrl and apiBaseUrl as https://<domain>:<httpsPort>; the bootstrap and live configs carry the site; the healthcheck stays on the admin API", () => {
        assert.equal(run.outputs.url, "https://cartie.test:18443");
        const web = run.one("docker:index/image:Image", "web-image");
        assert.equal((web.inputs.build as { args: Record<string, string> }).args.VITE_API_BASE_URL, "https://cartie.test:18443/api");
        const bootstrap = (run.one(CONTAINER, "proxy").inputs.uploads as Array<{ content: string }>)[0].content;
        assert.match(bootstrap, /^cartie\.test \{\n\ttls internal$/m);
        assert.match((run.one(COMMAND, "release").inputs.environment as Record<string, string>).CARTIE_CADDYFILE, /^cartie\.test \{\n\ttls internal$/m);
        assert.deepEqual((run.one(CONTAINER, "proxy").inputs.healthcheck as { tests: string[] }).tests, ["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:2019/config/"]);
    });

    it("the verification checks the public HTTPS URLs at the published address, trusting the proxy's internal root", () => {
        const env = run.one(COMMAND, "verification").inputs.environment as Record<string, string>;
        assert.equal(env.CARTIE_VERIFY_URLS, "https://cartie.test:18443/ https://cartie.test:18443/api/health");
        assert.equal(env.CARTIE_VERIFY_CONNECT, "127.0.0.1");
        assert.equal(env.CARTIE_VERIFY_TLS, "internal");
        assert.equal(env.CARTIE_VERIFY_PROXY, "cartie-dev-proxy");
    });

    it("acme on 0.0.0.0 with the standard ports and an email is valid; a load balancer in front is labelled", async () => {
        const acme = await evaluate(makeProjectDir(), { "cartie:domain": "cartie.example.org, www.cartie.example.org", "cartie:publicBind": "0.0.0.0", "cartie:acmeEmail": "ops@example.org" });
        assert.equal(acme.outputs.url, "https://cartie.example.org");
        assert.match((acme.one(COMMAND, "release").inputs.environment as Record<string, string>).CARTIE_CADDYFILE, /^\temail ops@example\.org$/m);
        const lb = await evaluate(makeProjectDir(), { "cartie:domain": "cartie.example.org", "cartie:tls": "off", "cartie:publicBind": "0.0.0.0", "cartie:tlsTerminatedBy": "hetzner-lb" });
        const labels = lb.one(CONTAINER, "proxy").inputs.labels as Array<{ label: string; value: string }>;
        assert.ok(labels.some((l) => l.label === LABELS.tlsTerminatedBy && l.value === "hetzner-lb"));
        assert.deepEqual(lb.one(CONTAINER, "proxy").inputs.ports, [{ external: 8082, internal: 80, ip: "0.0.0.0", protocol: "tcp" }]);
        assert.equal(lb.outputs.url, "https://cartie.example.org");
        assert.equal(lb.byType(VOLUME).filter((v) => v.name.startsWith("proxy-")).length, 0, "plain HTTP keeps no certificates");
    });

    it("preview of switching TLS on: the proxy (replaced) with its volumes, the release and the verification; the web only when its VITE_API_BASE_URL changes; api and db untouched", async () => {
        const dir = makeProjectDir();
        const before = await evaluate(dir, {});
        // The web's URL unchanged: a plain stack whose apiBaseUrl already is the HTTPS one (an http:// one is refused with TLS on).
        const apiUrl = { "cartie:apiBaseUrl": "https://cartie.test:18443/api" };
        const plainHttpsApi = await evaluate(dir, apiUrl);
        const on = await evaluate(dir, { ...INTERNAL, ...apiUrl });
        assert.deepEqual(changed(plainHttpsApi, on), ["proxy", "proxy-config", "proxy-data", "release", "verification"]);
        const derived = await evaluate(dir, INTERNAL);
        assert.deepEqual(changed(before, derived), ["cartie-dev-web", "proxy", "proxy-config", "proxy-data", "release", "verification", "web-image"]);
        for (const untouched of ["db", "cartie-dev-api", "api-image", "migration"]) assert.ok(!changed(before, derived).includes(untouched), untouched);
        // the proxy is replaced (its ports change: Docker cannot republish a running container), delete-first
        assert.equal(on.one(CONTAINER, "proxy").deleteBeforeReplace, true);
    });
});

describe("HTTPS config that cannot work is refused before anything is registered, each with its fix", () => {
    const cases: Array<[string, Record<string, string>, RegExp, RegExp]> = [
        ["a domain with acme on 127.0.0.1", { "cartie:domain": "cartie.example.org" }, /cartie:tls: is acme with publicBind 127\.0\.0\.1: the CA cannot reach/, /publicBind 0\.0\.0\.0.*or .*tls internal/],
        ["an IP address as domain with acme", { "cartie:domain": "203.0.113.7", "cartie:publicBind": "0.0.0.0" }, /cartie:domain: 203\.0\.113\.7 is an IP address: ACME CAs issue certificates for host names only/, /DNS A\/AAAA record/],
        ["tls off with a domain on 0.0.0.0 and nothing terminating TLS in front", { "cartie:domain": "cartie.example.org", "cartie:tls": "off", "cartie:publicBind": "0.0.0.0" }, /cartie:tls: is off for cartie\.example\.org published on 0\.0\.0\.0/, /tlsTerminatedBy/],
        ["acme without a domain", { "cartie:tls": "acme" }, /cartie:tls: is acme but no cartie:domain is set/, /config set cartie:domain/],
        ["internal without a domain", { "cartie:tls": "internal" }, /cartie:tls: is internal but no cartie:domain is set/, /config set cartie:domain/],
        ["acme on ports other than 80/443", { "cartie:domain": "cartie.example.org", "cartie:publicBind": "0.0.0.0", "cartie:httpsPort": "8443" }, /cartie:tls: is acme with httpPort 80 and httpsPort 8443: the CA validates on ports 80 and 443 only/, /config rm cartie:httpsPort/],
        ["an invalid host name", { "cartie:domain": "https://cartie.test/", "cartie:tls": "internal" }, /cartie:domain: "https:\/\/cartie\.test\/" is not a host name/, /config set cartie:domain/],
        ["an invalid ACME email", { "cartie:domain": "cartie.example.org", "cartie:publicBind": "0.0.0.0", "cartie:acmeEmail": "ops-at-example" }, /cartie:acmeEmail: "ops-at-example" is not an email address/, /config set cartie:acmeEmail/],
        ["an http:// publicUrl with TLS on", { ...INTERNAL, "cartie:publicUrl": "http://cartie.test:18080" }, /cartie:publicUrl: "http:\/\/cartie\.test:18080" is http:\/\/ while the proxy serves HTTPS .*mixed content/, /config rm cartie:publicUrl/],
        ["an unknown tls mode", { "cartie:domain": "cartie.test", "cartie:tls": "letsencrypt" }, /cartie:tls: "letsencrypt" is not one of acme, internal, off/, /config set cartie:tls acme/],
        ["the same port for HTTP and HTTPS", { ...INTERNAL, "cartie:httpsPort": "18080" }, /cartie:httpsPort: httpPort and httpsPort are both 18080/, /httpsPort 443/],
    ];
    for (const [what, config, problem, fix] of cases) {
        it(what, async () => {
            const err = await failure(config);
            assert.match(err.message, problem);
            assert.match(err.message, fix);
            assert.equal(err.registered, 0);
        });
    }

    it("lists a TLS problem with every other problem at once", async () => {
        const err = await failure({ "cartie:domain": "cartie.example.org", "cartie:seedSuperadminPassword": undefined });
        assert.match(err.message, /Cartie config has 2 problems/);
        assert.match(err.message, /cartie:seedSuperadminPassword: missing/);
        assert.match(err.message, /cartie:tls: is acme with publicBind 127\.0\.0\.1/);
    });
});
