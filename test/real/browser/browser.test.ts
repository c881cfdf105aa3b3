/**
 * The headless-Chromium harness (test/real/support/browser.ts) against the host's real Caddy 2.6
 * with `tls internal`: before a test trusts what it sees through this browser, the browser must be
 * shown to refuse what a person's browser refuses — a certificate from a root it was not given,
 * and an `http://` call from an `https://` page (mixed content).
 */
import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { ARTIFACTS_DIR, TestBrowser } from "../support/browser";
import { Cleanup, Server, freePort, runId, waitFor } from "../support/run";

const DOMAIN = "browser-check.cartie.test";

/** A page that calls an api the way the SPA does, at a base URL baked into it. */
function page(apiBase: string): string {
    return `<!doctype html><html><body><p id="api-status">pending</p><script>
fetch(${JSON.stringify(apiBase)} + "/ok").then(r => r.text()).then(t => { document.getElementById("api-status").textContent = t; },
  e => { document.getElementById("api-status").textContent = "blocked: " + e.message; });
</script></body></html>`;
}

describe("real: the headless Chromium harness refuses what a person's browser refuses", function () {
    const cleanup = new Cleanup();
    const id = runId();
    let dir: string;
    let httpsPort: number;
    let httpPort: number;
    let rootPem: string;

    before(async function () {
        dir = fs.mkdtempSync(path.join(os.tmpdir(), `cartie-real-browser-${id}-`));
        cleanup.dir(dir);
        httpsPort = await freePort();
        httpPort = await freePort();
        const adminPort = await freePort();
        const site = path.join(dir, "site");
        fs.mkdirSync(site);
        fs.writeFileSync(path.join(site, "secure.html"), page(`https://${DOMAIN}:${httpsPort}/api`));
        fs.writeFileSync(path.join(site, "mixed.html"), page(`http://${DOMAIN}:${httpPort}/api`));
        const caddyfile = path.join(dir, "Caddyfile");
        fs.writeFileSync(
            caddyfile,
            [
                "{",
                `\tadmin 127.0.0.1:${adminPort}`,
                `\thttp_port ${httpPort}`,
                `\thttps_port ${httpsPort}`,
                "\tskip_install_trust",
                "}",
                `${DOMAIN} {`,
                "\ttls internal",
                '\trespond /api/ok "api ok" 200',
                `\troot * ${site}`,
                "\tfile_server",
                "}",
                `http://${DOMAIN}:${httpPort} {`,
                '\trespond /api/ok "api ok" 200',
                "}",
                "",
            ].join("\n"),
        );
        const env = { HOME: dir, XDG_DATA_HOME: path.join(dir, "data"), XDG_CONFIG_HOME: path.join(dir, "config") };
        const caddy = new Server("caddy", "caddy", ["run", "--config", caddyfile, "--adapter", "caddyfile"], { env });
        cleanup.server(caddy);
        const rootFile = path.join(dir, "data", "caddy", "pki", "authorities", "local", "root.crt");
        rootPem = await waitFor(`Caddy's internal root at ${rootFile} (caddy output: ${caddy.tail(5)})`, () =>
            Promise.resolve(fs.existsSync(rootFile) && caddy.running ? fs.readFileSync(rootFile, "utf8") : undefined),
        );
    });

    after(async () => {
        await cleanup.run();
    });

    it("trusting Caddy's internal root, loads the https page and its https api call succeeds; a screenshot is kept", async () => {
        const browser = await TestBrowser.launch({ hosts: { [DOMAIN]: "127.0.0.1" }, trustedRootsPem: [rootPem] });
        try {
            const screenshot = path.join(ARTIFACTS_DIR, "browser-harness-secure.png");
            const visit = await browser.visit(`https://${DOMAIN}:${httpsPort}/secure.html`, async (p) => (await TestBrowser.textOf(p, "#api-status")) === "api ok", {
                screenshotPath: screenshot,
            });
            assert.equal(visit.status, 200);
            assert.ok(visit.ready, `the api call did not succeed: ${JSON.stringify(visit)}`);
            assert.ok(fs.statSync(screenshot).size > 0);
        } finally {
            await browser.close();
        }
    });

    it("without that root the page does not load: the certificate is refused, not ignored", async () => {
        const browser = await TestBrowser.launch({ hosts: { [DOMAIN]: "127.0.0.1" }, trustedRootsPem: [] });
        try {
            await assert.rejects(
                browser.visit(`https://${DOMAIN}:${httpsPort}/secure.html`, () => Promise.resolve(true)),
                /ERR_CERT_AUTHORITY_INVALID|ERR_CERT/,
            );
        } finally {
            await browser.close();
        }
    });

    it("an https page whose baked api URL is http:// has that call blocked as mixed content", async () => {
        const browser = await TestBrowser.launch({ hosts: { [DOMAIN]: "127.0.0.1" }, trustedRootsPem: [rootPem] });
        try {
            const visit = await browser.visit(`https://${DOMAIN}:${httpsPort}/mixed.html`, async (p) => ((await TestBrowser.textOf(p, "#api-status")) ?? "pending") !== "pending");
            assert.equal(visit.status, 200);
            assert.match(visit.console.join("\n"), /Mixed Content/i, `expected the browser to report mixed content: ${JSON.stringify(visit)}`);
            assert.ok(!visit.requests.some((r) => r.url.startsWith("http://") && r.status === 200), `an http:// request went through: ${JSON.stringify(visit.requests)}`);
        } finally {
            await browser.close();
        }
    });
});
