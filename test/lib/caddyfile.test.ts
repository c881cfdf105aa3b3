import { strict as assert } from "node:assert";
import { renderCaddyfile } from "../../lib/caddyfile";

const opts = { listenPort: 80, apiUpstream: "api:3000", webUpstream: "web:8080" };

describe("renderCaddyfile", () => {
    it("routes /api and /api/* to the api and everything else to the web", () => {
        const text = renderCaddyfile(opts);
        assert.match(text, /^:80 \{$/m);
        assert.match(text, /@api path \/api \/api\/\*/);
        assert.match(text, /handle @api \{\n\t\treverse_proxy api:3000\n\t\}/);
        assert.match(text, /\thandle \{\n\t\treverse_proxy web:8080\n\t\}/);
        assert.match(text, /auto_https off/);
    });

    it("is byte-for-byte stable for the same config, and different for a routing change", () => {
        assert.equal(renderCaddyfile(opts), renderCaddyfile({ ...opts }));
        assert.notEqual(renderCaddyfile(opts), renderCaddyfile({ ...opts, apiUpstream: "api:4000" }));
        assert.match(renderCaddyfile({ ...opts, apiPathPrefix: "/backend/" }), /@api path \/backend \/backend\/\*/);
    });

    it("refuses upstreams and ports that would render a broken file", () => {
        assert.throws(() => renderCaddyfile({ ...opts, apiUpstream: "api" }), /apiUpstream "api" must be host:port/);
        assert.throws(() => renderCaddyfile({ ...opts, webUpstream: "web:80 { }" }), /webUpstream/);
        assert.throws(() => renderCaddyfile({ ...opts, listenPort: 0 }), /listenPort 0 is not a port/);
    });
});
