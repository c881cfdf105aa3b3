import { strict as assert } from "node:assert";
import { renderCaddyfile } from "../../../lib/proxy/caddyfile";

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
});
