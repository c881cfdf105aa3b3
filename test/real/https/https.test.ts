/**
 * HTTPS for a real domain, proven on the real engine (`pulumi up` through the Automation API),
 * real Docker and Caddy 2.6 (`tls internal`, the domain cartie.test resolved to 127.0.0.1 by the
 * client: Node's servername/Host and curl --resolve, no DNS): `pulumi up`'s own verification checked
 * `https://<domain>/` and `/api/health`; they answer 200 with a certificate for that name chained to
 * the root read from the proxy, HTTP redirects with 308, HSTS is sent; `pulumi preview
 * --expect-no-changes` right after the HTTPS up finds nothing to do; a proxy removed by hand is
 * created again by the next `pulumi up` and serves the same certificate without issuing one. The
 * `acme` configuration cannot reach a CA from here: its rendered Caddyfile is checked with the
 * host's `caddy adapt`/`validate`.
 */
import { strict as assert } from "node:assert";
import { X509Certificate } from "node:crypto";
import * as fs from "node:fs";
import * as http from "node:http";
import * as os from "node:os";
import * as path from "node:path";
import { platformProgram } from "../../../components/program";
import { INTERNAL_ROOT_PATH } from "../../../lib/proxy/caddyfile";
import { makeProjectDir, runProgram, validStackConfig, TEST_DAEMON } from "../../support/mockRuntime";
import { ARTIFACTS_DIR, TestBrowser } from "../support/browser";
import { describeChanges, namesOf } from "../support/engineStack";
import { HttpsStack, httpsGetPinned, startHttpsStack } from "../support/https";
import { T } from "../support/program";
import { Server, docker, dockerOk, exec, execLikeCommandResource, freePort, waitFor } from "../support/run";

/** What Caddy (certmagic) logs when it issues a certificate. */
const ISSUED = /certificate obtained successfully|obtaining certificate/i;

/** Serial of a PEM certificate (upper-case hex, as the TLS socket reports the served one). */
const serialOf = (pem: string): string => new X509Certificate(pem).serialNumber.toUpperCase();

function plainGet(port: number, host: string, p: string): Promise<{ status: number; location?: string }> {
    return new Promise((resolve, reject) => {
        http.get({ host: "127.0.0.1", port, path: p, headers: { host }, agent: false }, (res) => {
            res.resume();
            res.on("end", () => resolve({ status: res.statusCode ?? 0, location: res.headers.location }));
        }).on("error", reject);
    });
}

describe("real engine: HTTPS for a domain (tls internal, real Docker and Caddy 2.6)", function () {
    let h: HttpsStack;
    let proxy: string;
    let firstSerial: string;
    let certFile: string;

    before(async function () {
        const started = Date.now();
        h = await startHttpsStack();
        proxy = h.proxy;
        console.log(`      pulumi up (HTTPS, first): ${h.firstUp.ms} ms; stack ready in ${Date.now() - started} ms`);
        certFile = `/data/caddy/certificates/local/${h.domain}/${h.domain}.crt`;
    });
    after(async () => {
        if (h) await h.cleanup();
    });

    it("pulumi up's verification checked https://<domain>/ and /api/health, pinned to 127.0.0.1 and trusting the proxy's internal root", async () => {
        assert.ok(namesOf(h.firstUp, "create").includes("verification"), describeChanges(h.firstUp));
        assert.deepEqual(h.firstUp.failures, []);
        // What the engine ran it with: the published address (no DNS) and the internal CA's root, read from this proxy.
        const command = (await h.stack.state()).resources.find((r) => r.type === "command:local:Command" && r.urn.endsWith("::verification") && !r.delete);
        const env = command?.inputs?.environment as Record<string, unknown> | undefined;
        assert.deepEqual([env?.CARTIE_VERIFY_CONNECT, env?.CARTIE_VERIFY_TLS, env?.CARTIE_VERIFY_PROXY], ["127.0.0.1", "internal", h.proxy], JSON.stringify(env));
        const verification = (await h.stack.outputs()).verification;
        assert.equal(typeof verification, "string", "the stack output verification is not the command's stdout");
        const raw = verification as string;
        const out = JSON.parse(raw.trim().split("\n").pop() ?? "{}") as { healthy: boolean; results: Array<{ url: string; status: number }> };
        assert.equal(out.healthy, true, raw);
        assert.deepEqual(out.results.map((r) => [r.url, r.status]), [
            [`https://${h.domain}:${h.httpsPort}/`, 200],
            [`https://${h.domain}:${h.httpsPort}/api/health`, 200],
        ]);
    });

    it("`pulumi preview --expect-no-changes` right after the HTTPS up finds nothing to change (refresh included)", async () => {
        const preview = await h.stack.preview({ expectNoChanges: true });
        assert.deepEqual(preview.changes, [], describeChanges(preview));
        console.log(`      preview --expect-no-changes: ${preview.ms} ms`);
    });

    it("/ and /api/health answer 200 over HTTPS with a certificate for the domain, chained to the root read from the proxy, and HSTS", async () => {
        for (const p of ["/", "/api/health"]) {
            const r = await httpsGetPinned(h.domain, h.httpsPort, p, h.rootCaPem);
            assert.equal(r.status, 200, `${p}: ${r.body.slice(0, 200)}`);
            assert.equal(r.authorized, true, `${p}: the chain does not verify against the proxy's root: ${r.authorizationError}`);
            assert.match(r.certificate.subjectaltname ?? "", new RegExp(`DNS:${h.domain.replace(".", "\\.")}`));
            assert.equal(r.headers["strict-transport-security"], "max-age=31536000");
        }
        const health = await httpsGetPinned(h.domain, h.httpsPort, "/api/health", h.rootCaPem);
        assert.match(health.body, /ok|healthy|status/i);
        // Issuer is Caddy's local intermediate, not the root itself; the root is what the proxy keeps in its data volume.
        assert.match(String(health.certificate.issuer.CN), /Caddy Local Authority/);
        firstSerial = health.certificate.serialNumber.toUpperCase();
        assert.equal(serialOf(await dockerOk(["exec", proxy, "cat", certFile])), firstSerial, "the served certificate is the one in the data volume");
    });

    it("the same with curl --resolve (what a person runs), verifying against the root only", async () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cartie-https-root-"));
        try {
            fs.writeFileSync(path.join(dir, "root.crt"), h.rootCaPem);
            const r = await exec("curl", ["-sS", "-o", "/dev/null", "-w", "%{http_code}", "--resolve", `${h.domain}:${h.httpsPort}:127.0.0.1`, "--cacert", path.join(dir, "root.crt"), `https://${h.domain}:${h.httpsPort}/api/health`]);
            assert.equal(r.stdout, "200", r.stderr);
            // without the root the chain is refused: the test really checks it
            const untrusted = await exec("curl", ["-sS", "-o", "/dev/null", "--resolve", `${h.domain}:${h.httpsPort}:127.0.0.1`, `https://${h.domain}:${h.httpsPort}/`]);
            assert.notEqual(untrusted.code, 0);
            assert.match(untrusted.stderr, /certificate/i);
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });

    it("the verification names a real certificate problem as such: a name the proxy has no certificate for, a root it does not trust", async () => {
        const verify = (env: Record<string, string>) => execLikeCommandResource("node --import tsx scripts/verify.ts", { CARTIE_VERIFY_ATTEMPTS: "2", CARTIE_VERIFY_CONNECT: "127.0.0.1", CARTIE_VERIFY_PROXY: proxy, ...env });
        const other = await verify({ CARTIE_VERIFY_URLS: `https://other.test:${h.httpsPort}/`, CARTIE_VERIFY_TLS: "internal" });
        assert.equal(other.code, 1);
        assert.match(other.stderr, /certificate problem \(not yet issued\).*the proxy has no certificate for other\.test/);
        assert.match(other.stderr, /fix: .*other\.test is in cartie:domain/);
        // acme trusts the public roots only: Caddy's internal CA is not one of them
        const untrusted = await verify({ CARTIE_VERIFY_URLS: `https://${h.domain}:${h.httpsPort}/`, CARTIE_VERIFY_TLS: "acme" });
        assert.equal(untrusted.code, 1);
        assert.match(untrusted.stderr, /certificate problem \(untrusted issuer\).*not from a publicly trusted CA/);
    });

    it("a real browser (headless Chromium trusting only the proxy's root) opens https://<domain>/: the SPA loads and its call to the api succeeds, no mixed content; a screenshot is kept", async () => {
        // The bundle is built for https://<domain>/api (port 443); the browser's resolver sends <domain>:443 to the proxy's HTTPS port.
        const browser = await TestBrowser.launch({ hosts: { [`${h.domain}:443`]: `127.0.0.1:${h.httpsPort}` }, trustedRootsPem: [h.rootCaPem] });
        try {
            const screenshot = path.join(ARTIFACTS_DIR, "https-spa.png");
            const visit = await browser.visit(`https://${h.domain}/`, async (page) => (await TestBrowser.textOf(page, "#health-status")) === "ok", { screenshotPath: screenshot, timeoutMs: 45_000 });
            const seen = JSON.stringify({ console: visit.console, failed: visit.failedRequests, requests: visit.requests });
            assert.equal(visit.status, 200);
            assert.ok(visit.ready, `the SPA did not show the api healthy: ${seen}`);
            assert.ok(
                visit.requests.some((r) => r.url === `https://${h.domain}/api/health` && r.status === 200),
                `the SPA's own call to the api is not among the page's requests: ${seen}`,
            );
            assert.ok(!visit.console.some((l) => /Mixed Content/i.test(l)), seen);
            assert.deepEqual(visit.failedRequests, []);
            assert.ok(fs.statSync(screenshot).size > 0);
        } finally {
            await browser.close();
        }
    });

    it("http:// redirects with 308 to https:// on the HTTPS port", async () => {
        for (const p of ["/", "/api/health"]) {
            const r = await plainGet(h.httpPort, `${h.domain}:${h.httpPort}`, p);
            assert.equal(r.status, 308, p);
            assert.equal(r.location, `https://${h.domain}:${h.httpsPort}${p}`);
        }
    });

    it("the certificates live in the caddy-data volume: the proxy removed by hand is created again by `pulumi up` (its refresh sees it gone) on the same volumes, serves the same certificate (same serial) and issues none", async () => {
        const mounts = JSON.parse(await dockerOk(["inspect", "--format", "{{json .Mounts}}", proxy])) as Array<{ Name: string; Destination: string }>;
        assert.deepEqual(mounts.map((m) => `${m.Name}:${m.Destination}`).sort(), [`${h.stack.prefix}-caddy-config:/config`, `${h.stack.prefix}-caddy-data:/data`]);
        const before = (await dockerOk(["inspect", "--format", "{{.Id}}", proxy])).trim();
        const volumesCreated = async (): Promise<string> => dockerOk(["volume", "inspect", "--format", "{{.Name}} {{.CreatedAt}}", `${h.stack.prefix}-caddy-data`, `${h.stack.prefix}-caddy-config`]);
        const volumesBefore = await volumesCreated();
        // The first proxy did issue it (so the check on the recreated one below can fail).
        const firstLogs = await docker(["logs", proxy]);
        assert.match(`${firstLogs.stdout}${firstLogs.stderr}`, ISSUED, "the first proxy's logs do not show the issuance");

        // Removed by hand, as a crash or `docker rm` does: only `pulumi up`'s refresh sees it gone.
        await dockerOk(["rm", "-f", proxy]);
        const up = await h.stack.up();
        console.log(`      pulumi up (proxy gone): ${up.ms} ms`);
        assert.ok(namesOf(up, "create").includes("proxy"), describeChanges(up));
        // The volumes are not created again: the new proxy mounts the ones that hold the certificates.
        assert.deepEqual(up.changes.filter((c) => /caddy|proxy-(data|config)/.test(c.name) && c.type === "docker:index/volume:Volume"), [], describeChanges(up));
        // The release and the verification take the new proxy's id (an input of both), so they ran against it.
        for (const name of ["release", "verification"]) assert.ok(up.changes.some((c) => c.name === name), `${name} did not run for the new proxy:\n${describeChanges(up)}`);
        assert.equal(await h.stack.containerName("proxy"), proxy, "the proxy's Docker name changed");
        const after = (await dockerOk(["inspect", "--format", "{{.Id}}", proxy])).trim();
        assert.notEqual(after, before, "the proxy was not recreated");
        const mountsAfter = JSON.parse(await dockerOk(["inspect", "--format", "{{json .Mounts}}", proxy])) as Array<{ Name: string; Destination: string }>;
        assert.deepEqual(mountsAfter.map((m) => `${m.Name}:${m.Destination}`).sort(), [`${h.stack.prefix}-caddy-config:/config`, `${h.stack.prefix}-caddy-data:/data`]);
        assert.equal(await volumesCreated(), volumesBefore, "a Caddy volume was created again");

        const r = await httpsGetPinned(h.domain, h.httpsPort, "/api/health", h.rootCaPem);
        assert.equal(r.status, 200);
        assert.equal(r.authorized, true, r.authorizationError);
        assert.equal(r.certificate.serialNumber.toUpperCase(), firstSerial, "the recreated proxy serves another certificate");
        assert.equal((await readRoot()).trim(), h.rootCaPem.trim(), "the internal CA's root changed");
        const logs = await docker(["logs", proxy]);
        assert.doesNotMatch(`${logs.stdout}${logs.stderr}`, ISSUED, "the recreated proxy issued a certificate");
        const preview = await h.stack.preview({ expectNoChanges: true });
        assert.deepEqual(preview.changes, [], describeChanges(preview));
    });

    const readRoot = async (): Promise<string> => dockerOk(["exec", proxy, "cat", INTERNAL_ROOT_PATH]);
});

describe("real: the acme configuration, checked by the host's Caddy 2.6 (no CA is reachable from here)", () => {
    it("caddy adapt and caddy validate accept the bootstrap and the live Caddyfile the program renders for acme", async () => {
        const config = validStackConfig({ "cartie:domain": "cartie.example.org, www.cartie.example.org", "cartie:publicBind": "0.0.0.0", "cartie:acmeEmail": "ops@example.org" });
        const run = await runProgram(() => ({ ...platformProgram(makeProjectDir(), { daemon: TEST_DAEMON }) }), { config });
        const bootstrap = (run.one(T.container, "proxy").inputs.uploads as Array<{ content: string }>)[0].content;
        const live = (run.one(T.command, "release").inputs.environment as Record<string, string>).CARTIE_CADDYFILE;
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cartie-acme-"));
        try {
            // Caddy's storage goes to the temp folder, not this host's home.
            const env = { ...process.env, XDG_DATA_HOME: path.join(dir, "data"), XDG_CONFIG_HOME: path.join(dir, "config"), HOME: dir };
            for (const [name, text] of [["bootstrap", bootstrap], ["live", live]] as const) {
                const file = path.join(dir, `${name}.Caddyfile`);
                fs.writeFileSync(file, text);
                const adapted = await exec("caddy", ["adapt", "--config", file, "--adapter", "caddyfile"], { env });
                assert.equal(adapted.code, 0, `${name}: caddy adapt: ${adapted.stderr}`);
                const json = JSON.parse(adapted.stdout) as {
                    apps: { http: { http_port?: number; https_port?: number; servers: Record<string, { listen: string[]; routes: Array<{ match?: Array<{ host?: string[] }> }> }> }; tls?: { automation?: { policies?: Array<{ subjects?: string[]; issuers?: Array<{ module: string; email?: string }> }> } } };
                };
                const hosts = Object.values(json.apps.http.servers).flatMap((s) => s.routes.flatMap((r) => r.match?.flatMap((m) => m.host ?? []) ?? []));
                assert.deepEqual([...new Set(hosts)].sort(), ["cartie.example.org", "www.cartie.example.org"], name);
                assert.ok(Object.values(json.apps.http.servers).some((s) => s.listen.includes(":443")), `${name}: nothing listens on :443`);
                // acme is Caddy's default issuer: no internal issuer, the account email set globally
                const issuers = (json.apps.tls?.automation?.policies ?? []).flatMap((p) => p.issuers ?? []);
                assert.ok(!issuers.some((i) => i.module === "internal"), `${name}: an internal issuer in the acme config`);
                assert.match(adapted.stdout, /"email":"ops@example\.org"/, `${name}: the ACME account email is missing`);
                const validated = await exec("caddy", ["validate", "--config", file, "--adapter", "caddyfile"], { env });
                assert.equal(validated.code, 0, `${name}: caddy validate: ${validated.stderr}`);
                assert.match(`${validated.stdout}${validated.stderr}`, /Valid configuration/);
            }
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });

    it("Caddy's own HTTP→HTTPS redirect, which acme on 80/443 relies on, is a 308 that names no port when it is https_port (why another HTTPS port gets a rendered one)", async () => {
        const [httpPort, httpsPort] = [await freePort(), await freePort()];
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cartie-redirect-"));
        const file = path.join(dir, "Caddyfile");
        fs.writeFileSync(file, `{\n\tadmin off\n\thttp_port ${httpPort}\n\thttps_port ${httpsPort}\n\tskip_install_trust\n}\n\ncartie.test {\n\ttls internal\n\trespond "ok"\n}\n`);
        const caddy = new Server("caddy", "caddy", ["run", "--config", file, "--adapter", "caddyfile"], { env: { XDG_DATA_HOME: path.join(dir, "data"), XDG_CONFIG_HOME: path.join(dir, "config"), HOME: dir } });
        try {
            const r = await waitFor("caddy's redirect", () => plainGet(httpPort, `cartie.test:${httpPort}`, "/x?y=1").catch(() => undefined), 20_000, 200);
            assert.equal(r.status, 308, caddy.tail());
            assert.equal(r.location, "https://cartie.test/x?y=1");
        } finally {
            await caddy.stop();
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });
});
