import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as path from "node:path";
import { HttpsSite, renderCaddyfile } from "../../../lib/proxy/caddyfile";

const ports = { api: 3000, web: 8080 };
const opts = { listenPort: 80, candidatePort: 8081, routed: ports };

/** The text of one site block, from its address line to its closing brace. */
function site(text: string, port: number): string {
    const m = new RegExp(`^:${port} \\{\\n([\\s\\S]*?)^\\}$`, "m").exec(text);
    assert.ok(m, `no site :${port} in\n${text}`);
    return m[1];
}

/** The names a site's dynamic upstreams look up, with their ports, in order. */
const lookups = (body: string): string[] => [...body.matchAll(/dynamic a (\S+) (\d+) \{/g)].map((m) => `${m[1]}:${m[2]}`);

describe("renderCaddyfile", () => {
    it("routes /api and /api/* to the api and everything else to the web, through the routes responder's live names: no container name in the config", () => {
        const text = renderCaddyfile(opts);
        const users = site(text, 80);
        assert.match(users, /@api path \/api \/api\/\*/);
        assert.deepEqual(lookups(users), ["api.live.cartie.internal:3000", "web.live.cartie.internal:8080"]);
        assert.match(users, /handle @api \{\n\t\treverse_proxy \{\n\t\t\tdynamic a api\.live/);
        assert.match(users, /resolvers udp\/cartie-routes:53/, "a resolver without udp/ makes Caddy speak DNS over TCP");
        assert.match(users, /refresh 100ms/);
        assert.doesNotMatch(text, /reverse_proxy [a-z0-9-]+:\d+/, "a static upstream is back: a release would have to reload the config");
        assert.match(text, /auto_https off/);
    });

    it("the candidate listener (loopback only) looks up the candidate names, so the smoke check reaches the new containers while users stay on the live ones", () => {
        const candidate = site(renderCaddyfile(opts), 8081);
        assert.match(candidate, /^\tbind 127\.0\.0\.1$/m);
        assert.deepEqual(lookups(candidate), ["api.candidate.cartie.internal:3000", "web.candidate.cartie.internal:8080"]);
    });

    it("a proxy no release has routed yet answers 503 with the reason instead of routing anywhere", () => {
        const text = renderCaddyfile({ listenPort: 80, candidatePort: 8081 });
        assert.match(site(text, 80), /respond ".*no release is routed yet.*" 503/);
        assert.doesNotMatch(text, /reverse_proxy/);
    });

    it("bounds a reload's grace period, retries a refused upstream connection and keeps upstream keep-alive shorter than the api's", () => {
        const text = renderCaddyfile(opts);
        assert.match(text, /^\tgrace_period 30s$/m);
        assert.match(text, /lb_try_duration 2s/);
        assert.match(text, /keepalive 30s/);
    });

    it("is the same bytes for every release of the same routing; the access log, a path or a port is a new config", () => {
        assert.equal(renderCaddyfile(opts), renderCaddyfile({ ...opts, routed: { ...ports } }));
        assert.doesNotMatch(renderCaddyfile(opts), /^\tlog$/m);
        assert.match(site(renderCaddyfile({ ...opts, accessLog: true }), 80), /^\tlog$/m);
        assert.notEqual(renderCaddyfile(opts), renderCaddyfile({ ...opts, routed: { ...ports, api: 3001 } }));
        assert.match(renderCaddyfile({ ...opts, apiPathPrefix: "/backend/" }), /@api path \/backend \/backend\/\*/);
    });

    it("refuses ports that would render a broken file", () => {
        assert.throws(() => renderCaddyfile({ ...opts, routed: { ...ports, api: 70000 } }), /routed\.api 70000 is not a port/);
        assert.throws(() => renderCaddyfile({ ...opts, listenPort: 0 }), /listenPort 0 is not a port/);
        assert.throws(() => renderCaddyfile({ ...opts, candidatePort: 80 }), /both 80/);
    });

    it("plain HTTP: the bootstrap config is byte for byte what it was before HTTPS existed; the routed one is pinned too", () => {
        // The bootstrap as rendered before issue 16 (git show 37751b5:lib/proxy/caddyfile.ts): a proxy's upload, so a change would replace every proxy.
        const fixture = (name: string): string => fs.readFileSync(path.join(__dirname, "fixtures", name), "utf8");
        assert.equal(renderCaddyfile({ listenPort: 80, candidatePort: 8081 }), fixture("plain-http-bootstrap.Caddyfile"));
        // The routed config Caddy 2.6 adapts (test/real/caddy): a change here is a config load on every stack's next `pulumi up`.
        assert.equal(renderCaddyfile({ ...opts, accessLog: true }), fixture("plain-http-routed.Caddyfile"));
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
        assert.deepEqual(lookups(users), ["api.live.cartie.internal:3000", "web.live.cartie.internal:8080"]);
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
        const text = renderCaddyfile({ ...opts, https: internal });
        assert.equal(site(text, 8081), site(renderCaddyfile(opts), 8081));
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
