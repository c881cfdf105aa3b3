/**
 * Caddy 2.6 (the host's Debian `caddy`) with the Caddyfile the program renders: `caddy validate`
 * accepts it; running it, with the routes responder (images/routes/responder.mjs) answering its
 * dynamic upstreams from a records file, routes `/api/health` to a real sample api process (built
 * on the host, on a real PostgreSQL 15 migrated by the program's plan) and `/` to the built web
 * files; with the api stopped the proxy answers 502 and `scripts/verify.ts`, run as the
 * Verification resource runs it, fails naming `/api/health` and 502.
 */
import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { renderCaddyfile } from "../../../lib/proxy/caddyfile";
import { routedCaddyfile } from "../../../lib/release/release";
import { ROUTES_RESOLVER, recordsFile } from "../../../lib/routes/names";
import { API_PORT, HEALTH_PATH, PROXY_PORT, WEB_PORT } from "../../../lib/env";
import { CANDIDATE_PORT } from "../../../lib/release/spec";
import { runMigrations } from "../../../lib/migration/run";
import { VerificationError, localProxyUrl, verificationUrls, verifyEndpoints } from "../../../lib/verify";
import { HostPostgres } from "../support/hostPostgres";
import { hostMigrationTarget } from "../support/hostMigrationTarget";
import { RealStack, evaluateRealStack, removeProjectDir } from "../support/program";
import { Cleanup, REPO, Server, exec, execLikeCommandResource, freePort, httpGet, runId, waitFor } from "../support/run";
import { WEB_DIR, hostApi, hostWeb, sampleMigrations } from "../support/sample";

/** The program's admin address; moved to a free port so runs and other suites never collide. */
const ADMIN_LINE = "\tadmin 127.0.0.1:2019";

function withAdminPort(caddyfile: string, port: number): string {
    assert.equal(caddyfile.split(ADMIN_LINE).length, 2, `the rendered Caddyfile no longer has the line "${ADMIN_LINE.trim()}"; update this test`);
    return caddyfile.replace(ADMIN_LINE, `\tadmin 127.0.0.1:${port}`);
}

/** The responder's address on the platform network, moved to one on this host. */
function withResolver(caddyfile: string, port: number): string {
    const line = `resolvers ${ROUTES_RESOLVER}`;
    assert.ok(caddyfile.includes(line), `the rendered Caddyfile no longer has "${line}"; update this test`);
    return caddyfile.split(line).join(`resolvers udp/127.0.0.1:${port}`);
}

async function caddyValidate(file: string): Promise<{ code: number; output: string }> {
    const r = await exec("caddy", ["validate", "--config", file, "--adapter", "caddyfile"], { env: { HOME: path.dirname(file), XDG_DATA_HOME: path.dirname(file), XDG_CONFIG_HOME: path.dirname(file) } });
    return { code: r.code, output: `${r.stdout}${r.stderr}` };
}

describe("real: Caddy 2.6 with the program's Caddyfile", function () {
    const cleanup = new Cleanup();
    const id = runId();
    let dir: string;
    let stack: RealStack;
    let pg: HostPostgres;
    let api: Server;
    let proxyPort: number;
    let urls: string[];
    const verifyEnv = (attempts: string): Record<string, string> => ({ CARTIE_VERIFY_URLS: urls.join(" "), CARTIE_VERIFY_ATTEMPTS: attempts });
    const caddyEnv = (): Record<string, string> => ({ HOME: dir, XDG_DATA_HOME: path.join(dir, "data"), XDG_CONFIG_HOME: path.join(dir, "config") });

    before(async function () {
        dir = fs.mkdtempSync(path.join(os.tmpdir(), `cartie-real-caddy-${id}-`));
        cleanup.dir(dir);
        stack = await evaluateRealStack(id, await freePort());
        cleanup.add("project dir", () => Promise.resolve(removeProjectDir(stack)));
    });

    after(async () => {
        await cleanup.run();
    });

    it("`caddy validate` accepts the exact Caddyfiles the program uploads to the proxy and the release loads, and one rendered for host upstreams", async () => {
        // The upload is the bootstrap (no routes yet), byte for byte.
        assert.equal(stack.caddyfile(), renderCaddyfile({ listenPort: PROXY_PORT, candidatePort: CANDIDATE_PORT }));
        const programs = stack.releaseCaddyfile();
        const api = stack.container("api").name;
        const web = stack.container("web").name;
        // The release loads the routed config: the responder's names and the apps' ports, no container name.
        assert.equal(programs, routedCaddyfile({ listenPort: PROXY_PORT, candidatePort: CANDIDATE_PORT, ports: { api: API_PORT, web: WEB_PORT }, apiPathPrefix: "/api", accessLog: false }));
        assert.ok(!programs.includes(api) && !programs.includes(web), "the config names a container: every release would be a config load");
        for (const [label, text] of [["bootstrap", stack.caddyfile()], ["release", programs]] as const) {
            const file = path.join(dir, `program-${label}.Caddyfile`);
            fs.writeFileSync(file, text);
            const r = await caddyValidate(file);
            assert.equal(r.code, 0, `${label}: ${r.output}`);
            assert.match(r.output, /Valid configuration/);
        }

        const hostFile = path.join(dir, "host.Caddyfile");
        fs.writeFileSync(hostFile, withResolver(renderCaddyfile({ listenPort: 18080, candidatePort: 18090, routed: { api: 13000, web: 18081 } }), 15353));
        const h = await caddyValidate(hostFile);
        assert.equal(h.code, 0, h.output);

        // validate is not a rubber stamp: one wrong directive in the same file is refused.
        const broken = path.join(dir, "broken.Caddyfile");
        fs.writeFileSync(broken, programs.replace("reverse_proxy {", "reverse_proxi {"));
        assert.notEqual((await caddyValidate(broken)).code, 0);
    });

    describe("running: proxy → real api and built web files", () => {
        before(async function () {
            const [apiDir, webDist] = await Promise.all([hostApi(), hostWeb("http://localhost:8082/api")]);
            // A real database the api reports healthy on: the program's plan migrates it.
            const apiEnv = Object.fromEntries((stack.container("api").envs ?? []).map((kv) => [kv.slice(0, kv.indexOf("=")), kv.slice(kv.indexOf("=") + 1)]));
            pg = await HostPostgres.start(stack.postgresPassword);
            cleanup.add("host postgres", () => pg.stop());
            const db = `caddy_${id}`;
            await pg.createDatabase(db);
            await runMigrations(hostMigrationTarget(pg, db, apiDir), sampleMigrations(), "v41_baseline", [stack.postgresPassword]);

            const [apiPort, webPort, adminPort, webAdmin] = [await freePort(), await freePort(), await freePort(), await freePort()];
            proxyPort = await freePort();
            urls = verificationUrls(localProxyUrl("127.0.0.1", proxyPort), HEALTH_PATH);

            // The api with the environment the program gives its container; only where the db is and the port differ.
            api = new Server("api", "node", ["dist/server.js"], { cwd: apiDir, env: { ...apiEnv, DATABASE_URL: pg.url(db), PORT: String(apiPort) } });
            cleanup.server(api);

            // The web files served by Caddy with the sample web image's own Caddyfile (root and port moved to the host).
            const sampleWeb = fs.readFileSync(path.join(WEB_DIR, "Caddyfile"), "utf8");
            assert.ok(sampleWeb.includes(":8080 {") && sampleWeb.includes("root * /srv"), "the sample web Caddyfile changed shape; update this test");
            const webFile = path.join(dir, "web.Caddyfile");
            // A bare `:port` address as in the sample: no host name, so Caddy never turns on TLS (nor touches the host's trust store).
            fs.writeFileSync(webFile, sampleWeb.replace("admin off", `admin 127.0.0.1:${webAdmin}\n\tskip_install_trust`).replace(":8080 {", `:${webPort} {`).replace("root * /srv", `root * ${webDist}`));
            const web = new Server("web", "caddy", ["run", "--config", webFile, "--adapter", "caddyfile"], { env: caddyEnv() });
            cleanup.server(web);

            // The routes responder on this host, its records naming the host processes (an IPv4 address is a target too).
            const routesPort = await freePort();
            const recordsPath = path.join(dir, "records.json");
            fs.writeFileSync(recordsPath, recordsFile({ live: { api: "127.0.0.1", web: "127.0.0.1" }, candidate: { api: "127.0.0.1", web: "127.0.0.1" } }));
            const routes = new Server("routes", "node", [path.join(REPO, "images/routes/responder.mjs")], { env: { ROUTES_PORT: String(routesPort), ROUTES_HOST: "127.0.0.1", ROUTES_FILE: recordsPath } });
            cleanup.server(routes);

            const proxyFile = path.join(dir, "proxy.Caddyfile");
            fs.writeFileSync(proxyFile, withResolver(withAdminPort(renderCaddyfile({ listenPort: proxyPort, candidatePort: await freePort(), routed: { api: apiPort, web: webPort } }), adminPort), routesPort));
            const proxy = new Server("proxy", "caddy", ["run", "--config", proxyFile, "--adapter", "caddyfile"], { env: caddyEnv() });
            cleanup.server(proxy);

            const up = async (what: Server, url: string): Promise<void> => {
                await waitFor(`${what.name} at ${url}`, async () => {
                    if (!what.running) throw new Error(`${what.name} exited:\n${what.tail()}`);
                    return (await httpGet(url))?.status === 200 ? true : undefined;
                }, 60_000).catch((err: Error) => {
                    throw new Error(`${err.message}\n${what.name} output:\n${what.tail()}`);
                });
            };
            await up(api, `http://127.0.0.1:${apiPort}${HEALTH_PATH}`);
            await up(web, `http://127.0.0.1:${webPort}/`);
            await up(proxy, `http://127.0.0.1:${adminPort}/config/`);
        });

        it("routes /api/health and /api/* to the api, / and everything else (even /apix) to the web files", async () => {
            const health = await httpGet(`http://127.0.0.1:${proxyPort}${HEALTH_PATH}`);
            assert.equal(health?.status, 200, health?.body);
            assert.equal((JSON.parse(health.body) as { status: string }).status, "ok");
            const count = await httpGet(`http://127.0.0.1:${proxyPort}/api/users/count`);
            assert.equal(count?.status, 200, count?.body);
            assert.equal(typeof (JSON.parse(count.body) as { count: unknown }).count, "number");

            const index = await httpGet(`http://127.0.0.1:${proxyPort}/`);
            assert.equal(index?.status, 200);
            assert.match(index.body, /<title>Cartie<\/title>/);
            const asset = /src="(\/assets\/[^"]+\.js)"/.exec(index.body)?.[1];
            assert.ok(asset, `no script in ${index.body}`);
            const js = await httpGet(`http://127.0.0.1:${proxyPort}${asset}`);
            assert.equal(js?.status, 200);
            assert.ok(js.body.includes("http://localhost:8082/api"), "the served bundle is not the one built with VITE_API_BASE_URL");

            const notApi = await httpGet(`http://127.0.0.1:${proxyPort}/apix`);
            assert.equal(notApi?.status, 200);
            assert.match(notApi.body, /<title>Cartie<\/title>/, "/apix was not served by the web");
        });

        it("scripts/verify.ts, run as the Verification resource runs it, exits 0 and reports both URLs 200", async () => {
            const r = await execLikeCommandResource("node --import tsx scripts/verify.ts", verifyEnv("15"));
            assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
            const out = JSON.parse(r.stdout) as { healthy: boolean; results: Array<{ url: string; status: number }> };
            assert.equal(out.healthy, true);
            assert.deepEqual(out.results.map((x) => [x.url, x.status]), urls.map((u) => [u, 200]));
        });

        it("with the api stopped: the proxy answers 502 on /api/health, / stays 200, and the verification fails naming /api/health and 502", async () => {
            await api.stop();
            const health = await httpGet(`http://127.0.0.1:${proxyPort}${HEALTH_PATH}`);
            assert.equal(health?.status, 502);
            assert.equal((await httpGet(`http://127.0.0.1:${proxyPort}/`))?.status, 200);

            const healthUrl = urls[1];
            assert.ok(healthUrl.endsWith(HEALTH_PATH));
            const err = await verifyEndpoints(urls, { attempts: 2, minDelayMs: 200, maxDelayMs: 200 }).then(
                () => assert.fail("verifyEndpoints passed with the api stopped"),
                (e: unknown) => e,
            );
            assert.ok(err instanceof VerificationError);
            assert.equal(err.message, `Verification failed: GET ${healthUrl} answered 502 after 2 attempt(s), expected 200`);

            // The resource's own command: exit 1, the same line on stderr, the results as JSON on stdout.
            const r = await execLikeCommandResource("node --import tsx scripts/verify.ts", verifyEnv("2"));
            assert.equal(r.code, 1, `${r.stdout}\n${r.stderr}`);
            assert.equal(r.stderr.trim(), `Verification failed: GET ${healthUrl} answered 502 after 2 attempt(s), expected 200`);
            const out = JSON.parse(r.stdout) as { healthy: boolean; results: Array<{ url: string; status: number; ok: boolean }> };
            assert.equal(out.healthy, false);
            assert.deepEqual(out.results.map((x) => [x.url, x.status, x.ok]), [[urls[0], 200, true], [healthUrl, 502, false]]);
        });
    });
});
