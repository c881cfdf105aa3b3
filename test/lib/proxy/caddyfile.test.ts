import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as path from "node:path";
import { HttpsSite, renderCaddyfile } from "../../../lib/proxy/caddyfile";

const live = { api: "cartie-dev-api-1a2b3c4:3000", web: "cartie-dev-web-5d6e7f8:8080" };
const next = { api: "cartie-dev-api-9999999:3000", web: "cartie-dev-web-8888888:8080" };
const opts = { listenPort: 80, candidatePort: 8081, live };

/** The text of one site block, from its address line to its closing brace. */
function site(text: string, port: number): string {
    const m = new RegExp(`^:${port} \\{\\n([\\s\\S]*?)^\\}$`, "m").exec(text);
    assert.ok(m, `no site :${port} in\n${text}`);
    return m[1];
}

describe("renderCaddyfile", () => {
    it("routes /api and /api/* to the live api container and everything else to the live web container, by container name", () => {
        const users = site(renderCaddyfile(opts), 80);
        assert.match(users, /@api path \/api \/api\/\*/);
        assert.match(users, /handle @api \{\n\t\treverse_proxy cartie-dev-api-1a2b3c4:3000 \{/);
        assert.match(users, /\thandle \{\n\t\treverse_proxy cartie-dev-web-5d6e7f8:8080 \{/);
        assert.doesNotMatch(users, /reverse_proxy (api|web):/, "a shared alias would send users to containers whatever their health");
        assert.match(renderCaddyfile(opts), /auto_https off/);
    });

    it("during a release the candidate listener (loopback only) reaches the new containers while users stay on the live ones", () => {
        const text = renderCaddyfile({ ...opts, candidate: next });
        assert.match(site(text, 80), /reverse_proxy cartie-dev-api-1a2b3c4:3000/);
        assert.doesNotMatch(site(text, 80), /9999999|8888888/);
        const candidate = site(text, 8081);
        assert.match(candidate, /^\tbind 127\.0\.0\.1$/m);
        assert.match(candidate, /reverse_proxy cartie-dev-api-9999999:3000/);
        assert.match(candidate, /reverse_proxy cartie-dev-web-8888888:8080/);
        // without a release in progress both listeners route to the live release
        assert.match(site(renderCaddyfile(opts), 8081), /reverse_proxy cartie-dev-api-1a2b3c4:3000/);
    });

    it("a proxy no release has routed yet answers 503 with the reason instead of routing anywhere", () => {
        const text = renderCaddyfile({ listenPort: 80, candidatePort: 8081 });
        assert.match(site(text, 80), /respond ".*no release is routed yet.*" 503/);
        assert.doesNotMatch(text, /reverse_proxy/);
        assert.match(site(renderCaddyfile({ listenPort: 80, candidatePort: 8081, candidate: next }), 8081), /reverse_proxy cartie-dev-api-9999999:3000/);
    });

    it("bounds a reload's grace period, retries a refused upstream connection and keeps upstream keep-alive shorter than the api's", () => {
        const text = renderCaddyfile(opts);
        assert.match(text, /^\tgrace_period 30s$/m);
        assert.match(text, /lb_try_duration 2s/);
        assert.match(text, /keepalive 30s/);
    });

    it("logs requests only when asked, and is byte-for-byte stable for the same routes", () => {
        assert.doesNotMatch(renderCaddyfile(opts), /^\tlog$/m);
        assert.match(site(renderCaddyfile({ ...opts, accessLog: true }), 80), /^\tlog$/m);
        assert.equal(renderCaddyfile(opts), renderCaddyfile({ ...opts, live: { ...live } }));
        assert.notEqual(renderCaddyfile(opts), renderCaddyfile({ ...opts, live: next }));
        assert.match(renderCaddyfile({ ...opts, apiPathPrefix: "/backend/" }), /@api path \/backend \/backend\/\*/);
    });

    it("refuses upstreams and ports that would render a broken file", () => {
        assert.throws(() => renderCaddyfile({ ...opts, live: { ...live, api: "api" } }), /live\.api "api" must be host:port/);
        assert.throws(() => renderCaddyfile({ ...opts, candidate: { ...next, web: "web:80 { }" } }), /candidate\.web/);
        assert.throws(() => renderCaddyfile({ ...opts, listenPort: 0 }), /listenPort 0 is not a port/);
        assert.throws(() => renderCaddyfile({ ...opts, candidatePort: 80 }), /both 80/);
    });

    it("plain HTTP (tls off) renders byte for byte what it rendered before HTTPS existed, so existing stacks see no change", () => {
        // Rendered by the renderer as it was before issue 16 (git show 37751b5:lib/proxy/caddyfile.ts).
        const fixture = (name: string): string => fs.readFileSync(path.join(__dirname, "fixtures", name), "utf8");
        assert.equal(renderCaddyfile({ listenPort: 80, candidatePort: 8081 }), fixture("plain-http-bootstrap.Caddyfile"));
        assert.equal(renderCaddyfile({ listenPort: 80, candidatePort: 8081, live, accessLog: true }), fixture("plain-http-live.Caddyfile"));
    });
});

describe("renderCaddyfile with an HTTPS site", () => {
    const internal: HttpsSite = { domains: ["cartie.test", "www.cartie.test"], issuer: "internal", httpPort: 18080, httpsPort: 18443 };
    const acme: HttpsSite = { domains: ["cartie.example.org"], issuer: "acme", acmeEmail: "ops@example.org", httpPort: 80, httpsPort: 443 };
    /** The block of the site whose address line is `address`. */
    const block = (text: string, address: string): string => {
        const m = new RegExp(`^${address.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")} \\{\\n([\\s\\S]*?)^\\}$`, "m").exec(text);
        assert.ok(m, `no site ${address} in\n${text}`);
        return m[1];
    };
    const globals = (text: string): string => {
        const m = /^\{\n([\s\S]*?)^\}$/m.exec(text);
        assert.ok(m, `no global options in\n${text}`);
        return m[1];
    };

    it("keeps automatic HTTPS on and names the ports, so Caddy's HTTP→HTTPS redirect points at the published HTTPS port", () => {
        const text = renderCaddyfile({ ...opts, https: internal });
        assert.doesNotMatch(text, /auto_https/);
        assert.match(globals(text), /^\thttp_port 18080$/m);
        assert.match(globals(text), /^\thttps_port 18443$/m);
        assert.match(globals(text), /^\tadmin 127\.0\.0\.1:2019$/m);
    });

    it("serves the domain list with HSTS and the same routes; tls internal or the ACME account's email", () => {
        const text = renderCaddyfile({ ...opts, https: internal });
        const users = block(text, "cartie.test, www.cartie.test");
        assert.match(users, /^\ttls internal$/m);
        assert.match(users, /^\theader Strict-Transport-Security "max-age=31536000"$/m);
        assert.match(users, /handle @api \{\n\t\treverse_proxy cartie-dev-api-1a2b3c4:3000 \{/);
        assert.match(globals(text), /^\tskip_install_trust$/m);
        assert.doesNotMatch(text, /^:80 \{/m, "no plain-HTTP public site next to the HTTPS one");

        const acmeText = renderCaddyfile({ ...opts, https: acme });
        assert.match(globals(acmeText), /^\temail ops@example\.org$/m);
        assert.doesNotMatch(acmeText, /tls internal|skip_install_trust/);
        assert.match(block(acmeText, "cartie.example.org"), /Strict-Transport-Security/);
    });

    it("redirects HTTP with 308: Caddy's own redirect on 443, an explicit one naming any other HTTPS port", () => {
        const text = renderCaddyfile({ ...opts, https: internal });
        assert.match(block(text, "http://cartie.test, http://www.cartie.test"), /^\tredir https:\/\/\{host\}:18443\{uri\} 308$/m);
        assert.doesNotMatch(renderCaddyfile({ ...opts, https: acme }), /^\tredir |^http:\/\//m);
    });

    it("the candidate listener stays plain HTTP on the container's loopback, whatever the public side", () => {
        const text = renderCaddyfile({ ...opts, candidate: next, https: internal });
        assert.equal(site(text, 8081), site(renderCaddyfile({ ...opts, candidate: next }), 8081));
        assert.match(site(text, 8081), /^\tbind 127\.0\.0\.1$/m);
    });

    it("the bootstrap config already carries the site (certificates are obtained before the first release) and is constant for one TLS config", () => {
        const bootstrap = renderCaddyfile({ listenPort: 80, candidatePort: 8081, https: internal });
        assert.match(block(bootstrap, "cartie.test, www.cartie.test"), /respond ".*no release is routed yet.*" 503/);
        assert.equal(bootstrap, renderCaddyfile({ listenPort: 80, candidatePort: 8081, https: { ...internal, domains: [...internal.domains] } }));
        assert.notEqual(bootstrap, renderCaddyfile({ listenPort: 80, candidatePort: 8081, https: { ...internal, httpsPort: 8443 } }));
    });

    it("refuses a site that would render a broken file", () => {
        assert.throws(() => renderCaddyfile({ ...opts, https: { ...internal, domains: [] } }), /at least one domain/);
        assert.throws(() => renderCaddyfile({ ...opts, https: { ...internal, domains: ["a.test {"] } }), /not a site name/);
        assert.throws(() => renderCaddyfile({ ...opts, https: { ...acme, acmeEmail: "x\n}" } }), /not an email/);
        assert.throws(() => renderCaddyfile({ ...opts, https: { ...internal, httpsPort: 8081 } }), /must differ/);
    });
});
