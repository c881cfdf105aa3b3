import * as assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { diagnose } from "../../lib/doctor/classify";
import { CADDY_CERT_DIR, ProxyCertificates, altNames, certificateFindings, labelDomains, parseCertificate, withCertificates } from "../../lib/doctor/certificates";
import { renderJson, renderText } from "../../lib/doctor/render";
import { DOCTOR_SCHEMA_VERSION, DoctorReport } from "../../lib/doctor/types";

const DAY = 86_400_000;

interface Made {
    pem: string;
    serial: string;
    notAfter: Date;
    notBefore: Date;
}

/** A real certificate from the openssl CLI (self-signed, its key thrown away with the temp folder). */
function makeCert(dir: string, name: string, days: number, san: string): Made {
    const crt = path.join(dir, `${name}.crt`);
    const key = path.join(dir, `${name}.key`);
    execFileSync("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", crt, "-days", String(days), "-subj", `/CN=${name}/O=Test CA`, "-addext", `subjectAltName=${san}`], { stdio: "pipe" });
    const read = (flag: string): string => execFileSync("openssl", ["x509", "-in", crt, "-noout", flag], { encoding: "utf8" }).trim();
    return {
        pem: fs.readFileSync(crt, "utf8"),
        serial: read("-serial").replace(/^serial=/, "").toLowerCase(),
        notAfter: new Date(read("-enddate").replace(/^notAfter=/, "")),
        notBefore: new Date(read("-startdate").replace(/^notBefore=/, "")),
    };
}

function proxy(certs: ProxyCertificates["certificates"], o: Partial<ProxyCertificates> = {}): ProxyCertificates {
    return { container: "cartie-dev-proxy", mode: "acme", domains: ["a.test"], certificates: certs, ...o };
}

describe("doctor: the proxy's certificates", () => {
    let dir: string;
    let long: Made;
    let short: Made;
    const acmePath = `${CADDY_CERT_DIR}/acme-v02.api.letsencrypt.org-directory/a.test/a.test.crt`;

    before(() => {
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "doctor-certs-"));
        long = makeCert(dir, "a.test", 90, "DNS:a.test,DNS:*.b.test,IP:127.0.0.1");
        short = makeCert(dir, "short.test", 1, "DNS:short.test");
    });

    after(() => fs.rmSync(dir, { recursive: true, force: true }));

    it("parses names, issuer, serial and expiry as openssl reads them, and which domains it covers", () => {
        const now = new Date(long.notBefore.getTime() + DAY);
        const c = parseCertificate(acmePath, long.pem, ["a.test", "x.b.test", "127.0.0.1", "c.test", "y.x.b.test"], now);
        assert.deepEqual(c.names, ["a.test", "*.b.test", "127.0.0.1"]);
        assert.equal(c.issuer, "CN=a.test, O=Test CA");
        assert.equal(c.serial, long.serial);
        assert.equal(c.notAfter, long.notAfter.toISOString());
        assert.equal(c.daysLeft, 89);
        assert.equal(c.issuerDir, "acme-v02.api.letsencrypt.org-directory");
        assert.deepEqual(c.covers, ["a.test", "x.b.test", "127.0.0.1"]);
        assert.equal(c.error, undefined);
    });

    it("marks a file that is not a certificate instead of failing", () => {
        const c = parseCertificate(`${CADDY_CERT_DIR}/local/x/x.crt`, "not a pem", ["x"], new Date());
        assert.match(c.error ?? "", /not a certificate/);
        assert.deepEqual(certificateFindings(proxy([c], { domains: ["x"] }), new Date()).map((f) => f.code), ["CERT_NOT_ISSUED"]);
    });

    it("reads the domains label and the subjectAltName forms", () => {
        assert.deepEqual(labelDomains(" A.test, b.test  a.test"), ["a.test", "b.test"]);
        assert.deepEqual(labelDomains(undefined), []);
        assert.deepEqual(altNames("DNS:a.test, IP Address:::1"), ["a.test", "::1"]);
    });

    it("a valid certificate for every domain: no finding", () => {
        const now = new Date(long.notBefore.getTime() + DAY);
        assert.deepEqual(certificateFindings(proxy([parseCertificate(acmePath, long.pem, ["a.test"], now)]), now), []);
    });

    it("a domain without a certificate: not issued yet, with the likely causes and the fix (acme), or the internal CA's", () => {
        const now = new Date(long.notBefore.getTime() + DAY);
        const cert = parseCertificate(acmePath, long.pem, ["a.test", "c.test"], now);
        const [f, ...rest] = certificateFindings(proxy([cert], { domains: ["a.test", "c.test"] }), now);
        assert.equal(rest.length, 0);
        assert.equal(f.code, "CERT_NOT_ISSUED");
        assert.equal(f.severity, "error");
        assert.match(f.cause, /no certificate for c\.test .*not issued yet/);
        assert.match(f.reading ?? "", /DNS for c\.test does not point to this host.*ports 80\/443 are closed/);
        assert.match(f.fix, /DNS A\/AAAA record of c\.test.*ports 80 and 443.*docker logs cartie-dev-proxy/);
        const internal = certificateFindings(proxy([], { mode: "internal", domains: ["c.test"] }), now);
        assert.match(internal[0].fix, /internal CA/);
    });

    it("expiring within 14 days is a warning (renewal failing); expired is an error", () => {
        const soon = new Date(long.notAfter.getTime() - 10 * DAY);
        const cert = parseCertificate(acmePath, long.pem, ["a.test"], soon);
        const [w] = certificateFindings(proxy([cert]), soon);
        assert.equal(w.code, "CERT_EXPIRING");
        assert.equal(w.severity, "warn");
        assert.match(w.cause, new RegExp(`serial ${long.serial}.*expires in 10 days.*renewal is failing`));
        assert.equal(w.evidence, acmePath);
        const fine = new Date(long.notAfter.getTime() - 15 * DAY);
        assert.deepEqual(certificateFindings(proxy([parseCertificate(acmePath, long.pem, ["a.test"], fine)]), fine), []);
        const late = new Date(long.notAfter.getTime() + DAY);
        const [e] = certificateFindings(proxy([parseCertificate(acmePath, long.pem, ["a.test"], late)]), late);
        assert.equal(e.code, "CERT_EXPIRED");
        assert.equal(e.severity, "error");
        assert.match(e.cause, /expired 1 day ago/);
    });

    it("a short-lived certificate (Caddy's internal CA) is judged by its lifetime, not by 14 days", () => {
        const path1 = `${CADDY_CERT_DIR}/local/short.test/short.test.crt`;
        const early = new Date(short.notBefore.getTime() + 3_600_000);
        assert.deepEqual(certificateFindings(proxy([parseCertificate(path1, short.pem, ["short.test"], early)], { mode: "internal", domains: ["short.test"] }), early), []);
        const late = new Date(short.notAfter.getTime() - 2 * 3_600_000);
        const found = certificateFindings(proxy([parseCertificate(path1, short.pem, ["short.test"], late)], { mode: "internal", domains: ["short.test"] }), late);
        assert.deepEqual(found.map((f) => f.code), ["CERT_EXPIRING"]);
        assert.match(found[0].cause, /expires in 2 hours/);
    });

    it("the newest certificate covering a domain is the one judged; a proxy that could not be read has no findings but a note", () => {
        const now = new Date(long.notAfter.getTime() + DAY);
        const expiredOld = parseCertificate(`${CADDY_CERT_DIR}/local/a.test/a.test.crt`, short.pem, ["a.test"], now);
        const current = parseCertificate(acmePath, long.pem, ["a.test"], new Date(long.notBefore.getTime()));
        // `short` covers only short.test, so a.test is judged on `long`, expired at `now`.
        assert.deepEqual(certificateFindings(proxy([expiredOld, current]), now).map((f) => f.code), ["CERT_EXPIRED"]);
        const base = diagnose({ stack: "dev", containers: [], expected: { baseline: "v41", migrations: [], schemaTables: [], requiredApiEnv: [] }, probes: [], configProblems: [], notes: [] });
        const unread = withCertificates(base, [proxy([], { error: "cartie-dev-proxy is not running" })], now);
        assert.equal(unread.findings.length, base.findings.length);
        assert.ok(unread.notes.includes("certificates of cartie-dev-proxy not read: cartie-dev-proxy is not running"));
    });

    it("goes into the report: findings sorted in, unhealthy on an error, the same in text and JSON (schemaVersion 2, additive)", () => {
        const now = new Date(long.notBefore.getTime() + DAY);
        const base: DoctorReport = diagnose({ stack: "dev", containers: [], expected: { baseline: "v41", migrations: [], schemaTables: [], requiredApiEnv: [] }, probes: [], configProblems: [], notes: [] });
        const cert = parseCertificate(acmePath, long.pem, ["a.test", "c.test"], now);
        const report = withCertificates({ ...base, healthy: true }, [proxy([cert], { domains: ["a.test", "c.test"] })], now);
        assert.equal(report.healthy, false);
        assert.ok(report.findings.some((f) => f.code === "CERT_NOT_ISSUED"));
        const json = JSON.parse(renderJson(report)) as DoctorReport;
        assert.equal(json.schemaVersion, DOCTOR_SCHEMA_VERSION);
        assert.equal(DOCTOR_SCHEMA_VERSION, 2);
        assert.equal(json.certificates?.[0].certificates[0].serial, long.serial);
        const text = renderText(report);
        assert.match(text, /Certificates of cartie-dev-proxy \(tls acme; domains a\.test, c\.test\):/);
        assert.ok(text.includes(`serial ${long.serial}  expires ${long.notAfter.toISOString()} (89 days)`), text);
        assert.match(text, /\[error\] CERT_NOT_ISSUED cartie-dev-proxy\n {4}cause: {5}no certificate for c\.test/);
        // A warning alone keeps the report healthy.
        const soon = new Date(long.notAfter.getTime() - 5 * DAY);
        const warned = withCertificates({ ...base, healthy: true }, [proxy([parseCertificate(acmePath, long.pem, ["a.test"], soon)])], soon);
        assert.equal(warned.healthy, true);
        assert.deepEqual(warned.findings.map((f) => f.code), [...base.findings.map((f) => f.code), "CERT_EXPIRING"]);
    });
});
