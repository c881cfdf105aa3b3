import { strict as assert } from "node:assert";
import { ConfigProblem } from "../../../lib/config";
import { TlsKey, TlsSettings, derivedPublicUrl, httpsSiteOf, parseTls, splitDomains } from "../../../lib/config/tls";

function parse(values: Partial<Record<TlsKey, string>>, bind = "127.0.0.1"): { tls: TlsSettings; problems: ConfigProblem[] } {
    const problems: ConfigProblem[] = [];
    const tls = parseTls((k) => values[k], bind, problems);
    return { tls, problems };
}

describe("TLS config (lib/config/tls.ts)", () => {
    it("without a domain: tls off, plain HTTP, nothing derived (existing stacks see no change)", () => {
        const { tls, problems } = parse({});
        assert.deepEqual(problems, []);
        assert.deepEqual(tls, { mode: "off", domains: [], acmeEmail: undefined, terminatedBy: undefined, httpPort: 80, httpsPort: 443 });
        assert.equal(derivedPublicUrl(tls), undefined);
        assert.equal(httpsSiteOf(tls), undefined);
    });

    it("splits the domain list on commas and spaces, lowercased, without trailing dots or repeats", () => {
        assert.deepEqual(splitDomains(" Cartie.Example.org., www.cartie.example.org  cartie.example.org"), ["cartie.example.org", "www.cartie.example.org"]);
    });

    it("a domain defaults to acme on 80/443, deriving https://<first domain>; internal on other ports names the port", () => {
        const acme = parse({ domain: "cartie.example.org,www.cartie.example.org", acmeEmail: "ops@example.org" }, "0.0.0.0");
        assert.deepEqual(acme.problems, []);
        assert.equal(acme.tls.mode, "acme");
        assert.equal(derivedPublicUrl(acme.tls), "https://cartie.example.org");
        assert.deepEqual(httpsSiteOf(acme.tls), { domains: ["cartie.example.org", "www.cartie.example.org"], issuer: "acme", acmeEmail: "ops@example.org", httpPort: 80, httpsPort: 443 });
        const internal = parse({ domain: "cartie.test", tls: "internal", httpPort: "18080", httpsPort: "18443" });
        assert.deepEqual(internal.problems, []);
        assert.equal(derivedPublicUrl(internal.tls), "https://cartie.test:18443");
    });

    it("tls off with a domain: allowed on loopback; behind a load balancer the URL is https and the terminator is kept", () => {
        assert.deepEqual(parse({ domain: "cartie.test", tls: "off" }).problems, []);
        const lb = parse({ domain: "cartie.example.org", tls: "off", tlsTerminatedBy: "hetzner-lb" }, "0.0.0.0");
        assert.deepEqual(lb.problems, []);
        assert.equal(lb.tls.terminatedBy, "hetzner-lb");
        assert.equal(derivedPublicUrl(lb.tls), "https://cartie.example.org");
        assert.equal(httpsSiteOf(lb.tls), undefined);
    });

    it("refuses the proxy's own ports and a terminator that is not a short name", () => {
        assert.deepEqual(parse({ domain: "cartie.test", tls: "internal", httpsPort: "2019" }).problems.map((p) => p.key), ["httpsPort"]);
        assert.match(parse({ domain: "cartie.test", tls: "internal", httpPort: "8081" }).problems[0].problem, /candidate listener/);
        assert.deepEqual(parse({ domain: "x.org", tls: "off", tlsTerminatedBy: "a load balancer; rm -rf" }, "0.0.0.0").problems.map((p) => p.key), ["tlsTerminatedBy"]);
    });
});
