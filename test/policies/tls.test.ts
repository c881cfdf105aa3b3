import * as assert from "node:assert/strict";
import { LABELS } from "../../lib/docker/labels";
import { policies } from "../../policies/rules";
import { isLoopback } from "../../lib/config/tls";
import { HttpsConfig, ProxyView, httpsFindings } from "../../policies/tls";
import { TYPES } from "../../policies/util";
import { validStackConfig } from "../support/mockRuntime";
import { PackResource, changed, find, programResources, setLabel, validate } from "./support";

const CONFIG: HttpsConfig = { httpsPort: 443 };
const UNKNOWN_STRING = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

function proxy(labels: Record<string, string>, ports: ProxyView["ports"]): ProxyView {
    return { labels: { [LABELS.component]: "proxy", ...labels }, ports };
}

describe("public-proxy-serves-https: the rule's logic", () => {
    it("tells loopback addresses from the others", () => {
        for (const ip of ["127.0.0.1", "127.1.2.3", "::1", "[::1]", "0:0:0:0:0:0:0:1", "::ffff:127.0.0.1", "localhost"]) assert.ok(isLoopback(ip), ip);
        for (const ip of [undefined, "", "0.0.0.0", "::", "[::]", "203.0.113.7", "10.0.0.5", "2001:db8::1", "::ffff:10.0.0.1", "128.0.0.1"]) assert.ok(!isLoopback(ip), String(ip));
    });

    it("passes a proxy on loopback only, whatever its TLS", () => {
        assert.deepEqual(httpsFindings(proxy({ [LABELS.tls]: "off" }, [{ internal: 80, external: 8082, ip: "127.0.0.1" }]), CONFIG), []);
        assert.deepEqual(httpsFindings(proxy({}, [{ internal: 80, external: 8082, ip: "::1" }]), CONFIG), []);
    });

    it("stops a plain-HTTP proxy on every interface, a public address or no ip, naming the address and both fixes", () => {
        for (const ip of ["0.0.0.0", "::", "203.0.113.7", undefined]) {
            const [f, ...rest] = httpsFindings(proxy({ [LABELS.tls]: "off" }, [{ internal: 80, external: 8082, ip }]), CONFIG);
            assert.equal(rest.length, 0);
            assert.ok(f.problem.includes(`${ip ?? "every interface"}:8082->80`), f.problem);
            assert.match(f.problem, /serves plain HTTP \(tls "off"\)/);
            assert.match(f.fix, /pulumi config set cartie:domain <name>/);
            assert.match(f.fix, /pulumi config set cartie:tlsTerminatedBy <lb>/);
        }
        assert.match(httpsFindings(proxy({}, [{ internal: 80, external: 80, ip: "0.0.0.0" }]), CONFIG)[0].problem, /no tls label/);
    });

    it("passes TLS on (acme or internal) with the HTTPS port published", () => {
        for (const tls of ["acme", "internal"]) {
            const ports = [
                { internal: 80, external: 80, ip: "0.0.0.0" },
                { internal: 443, external: 443, ip: "0.0.0.0" },
            ];
            assert.deepEqual(httpsFindings(proxy({ [LABELS.tls]: tls }, ports), CONFIG), [], tls);
        }
        // The stack's own HTTPS port, told to the rule through its config.
        assert.deepEqual(httpsFindings(proxy({ [LABELS.tls]: "acme" }, [{ internal: 8443, external: 8443, ip: "0.0.0.0" }]), { httpsPort: 8443 }), []);
    });

    it("stops TLS on without the HTTPS port published", () => {
        const [f] = httpsFindings(proxy({ [LABELS.tls]: "internal" }, [{ internal: 80, external: 80, ip: "0.0.0.0" }]), CONFIG);
        assert.match(f.problem, /TLS on \(internal\).*does not publish its HTTPS port 443/);
        assert.match(f.fix, /publish container port 443/);
    });

    it("passes a plain-HTTP proxy when the stack names what terminates TLS in front of it", () => {
        assert.deepEqual(httpsFindings(proxy({ [LABELS.tls]: "off", [LABELS.tlsTerminatedBy]: "hetzner-lb" }, [{ internal: 80, external: 80, ip: "0.0.0.0" }]), CONFIG), []);
        assert.equal(httpsFindings(proxy({ [LABELS.tls]: "off", [LABELS.tlsTerminatedBy]: "  " }, [{ internal: 80, external: 80, ip: "0.0.0.0" }]), CONFIG).length, 1);
    });

    it("leaves containers that are not the proxy, and views unknown during preview, alone", () => {
        assert.deepEqual(httpsFindings({ labels: { [LABELS.component]: "web" }, ports: [{ internal: 8080, external: 8080, ip: "0.0.0.0" }] }, CONFIG), []);
        assert.deepEqual(httpsFindings({}, CONFIG), []);
    });
});

describe("public-proxy-serves-https as the analyzer calls it, on the program's proxy", () => {
    let proxyOnLoopback: PackResource;
    let proxyOnAll: PackResource;
    const rule = policies.find((p) => p.name === "public-proxy-serves-https");

    before(async () => {
        proxyOnLoopback = find((await programResources()).resources, TYPES.container, "proxy");
        proxyOnAll = find((await programResources(validStackConfig({ "cartie:publicBind": "0.0.0.0" }))).resources, TYPES.container, "proxy");
    });

    it("is registered, mandatory", () => {
        assert.ok(rule && "validateResource" in rule);
        assert.equal(rule.enforcementLevel, "mandatory");
    });

    it("passes the program's proxy on its default 127.0.0.1", async () => {
        assert.ok(rule && "validateResource" in rule);
        assert.deepEqual(await validate(rule, proxyOnLoopback), []);
    });

    it("stops the program's proxy with cartie:publicBind 0.0.0.0 and no TLS", async () => {
        assert.ok(rule && "validateResource" in rule);
        const messages = await validate(rule, proxyOnAll);
        assert.equal(messages.length, 1, messages.join("\n"));
        assert.match(messages[0], /docker:Container "proxy": is published on 0\.0\.0\.0:8082->80, reachable from other hosts, but serves plain HTTP/);
        assert.match(messages[0], /Fix: give the stack its public name, `pulumi config set cartie:domain <name>`/);
    });

    it("passes it with tls internal and 443 published, or with tlsTerminatedBy; an unknown label waits for the update", async () => {
        assert.ok(rule && "validateResource" in rule);
        const withTls = changed(proxyOnAll, (r) => {
            setLabel(r, LABELS.tls, "internal");
            r.wire.ports = [...(r.wire.ports as object[]), { internal: 443, external: 443, ip: "0.0.0.0", protocol: "tcp" }];
        });
        assert.deepEqual(await validate(rule, withTls), []);
        assert.deepEqual(await validate(rule, changed(proxyOnAll, (r) => setLabel(r, LABELS.tlsTerminatedBy, "hetzner-lb"))), []);
        assert.deepEqual(await validate(rule, changed(proxyOnAll, (r) => setLabel(r, LABELS.tls, UNKNOWN_STRING))), []);
    });

    it("reads the HTTPS port from the program's own proxy labels: a stack on non-default ports passes both rules with no policy config", async () => {
        const onOwnPorts = find(
            (await programResources(validStackConfig({ "cartie:publicBind": "0.0.0.0", "cartie:domain": "cartie.example.org", "cartie:tls": "internal", "cartie:httpPort": "18080", "cartie:httpsPort": "18443" })))
                .resources,
            TYPES.container,
            "proxy",
        );
        const network = policies.find((p) => p.name === "only-the-proxy-is-public");
        assert.ok(rule && "validateResource" in rule && network && "validateResource" in network);
        assert.deepEqual(await validate(rule, onOwnPorts), []);
        assert.deepEqual(await validate(network, onOwnPorts, { publicBind: "0.0.0.0" }), []);
        // Without the HTTPS port published the label still names it: the rule stops the proxy and says which port.
        const withoutHttps = changed(onOwnPorts, (r) => {
            r.wire.ports = (r.wire.ports as { internal: number }[]).filter((p) => p.internal !== 18443);
        });
        const [message] = await validate(rule, withoutHttps);
        assert.match(message, /does not publish its HTTPS port 18443/);
    });
});
