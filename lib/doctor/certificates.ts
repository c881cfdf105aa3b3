/**
 * The proxy's TLS certificates as the doctor reports them: parsed with node:crypto's X509Certificate
 * (names, issuer, serial, expiry), matched against the domains the proxy is labelled with, and
 * turned into findings (not issued yet, expired, expiring because renewal fails). Pure: the reader
 * (lib/doctor/certificateReader.ts) hands in the PEM text and the time.
 */
import { X509Certificate } from "node:crypto";
import { isIP } from "node:net";
import { sortFindings } from "./classify";
import { CertificateFacts, DoctorReport, Finding, ProxyCertificates } from "./types";

export type { CertificateFacts, ProxyCertificates, TlsMode } from "./types";

/** Caddy's data directory inside the proxy (the `<prefix>-caddy-data` volume) and where it keeps certificates. */
export const CADDY_DATA_DIR = "/data";
export const CADDY_CERT_DIR = `${CADDY_DATA_DIR}/caddy/certificates`;

const DAY_MS = 86_400_000;
/** Long-lived certificates (Let's Encrypt's 90 days) are renewed 30 days ahead: 14 days left means renewal has failed for weeks. */
export const EXPIRY_WARN_DAYS = 14;

/** `a.example.org, b.example.org` (the domains label) → the names. */
export function labelDomains(value: string | undefined): string[] {
    return [
        ...new Set(
            (value ?? "")
                .split(/[\s,]+/)
                .map((d) => d.trim().toLowerCase())
                .filter(Boolean),
        ),
    ];
}

/** `CN=x\nO=y` (node's form) → `CN=x, O=y`. */
function oneLine(dn: string): string {
    return dn
        .split("\n")
        .map((s) => s.trim())
        .filter(Boolean)
        .join(", ");
}

/** The subjectAltName's names: `DNS:a.test, IP Address:127.0.0.1` → `a.test`, `127.0.0.1`. */
export function altNames(subjectAltName: string | undefined): string[] {
    return (subjectAltName ?? "")
        .split(/,\s*/)
        .map((s) => s.replace(/^(DNS|IP Address):/, "").trim())
        .filter(Boolean);
}

function covers(cert: X509Certificate, domain: string): boolean {
    return isIP(domain) ? cert.checkIP(domain) !== undefined : cert.checkHost(domain, { subject: "never" }) !== undefined;
}

/** One certificate file (the leaf is the first PEM block; Caddy appends the chain after it). */
export function parseCertificate(path: string, pem: string, domains: string[], now: Date): CertificateFacts {
    const issuerDir = path.startsWith(`${CADDY_CERT_DIR}/`) ? path.slice(CADDY_CERT_DIR.length + 1).split("/")[0] : "";
    let cert: X509Certificate;
    try {
        cert = new X509Certificate(pem);
    } catch (e) {
        return { path, issuerDir, names: [], issuer: "", serial: "", notBefore: "", notAfter: "", daysLeft: 0, covers: [], error: `not a certificate: ${(e as Error).message}` };
    }
    const notAfter = new Date(cert.validTo);
    return {
        path,
        issuerDir,
        names: altNames(cert.subjectAltName),
        issuer: oneLine(cert.issuer),
        serial: cert.serialNumber.toLowerCase(),
        notBefore: new Date(cert.validFrom).toISOString(),
        notAfter: notAfter.toISOString(),
        daysLeft: Math.round(((notAfter.getTime() - now.getTime()) / DAY_MS) * 10) / 10,
        covers: domains.filter((d) => covers(cert, d)),
    };
}

/**
 * When a certificate counts as expiring: 14 days before its end, or for a short-lived one (Caddy's
 * internal CA issues 12-hour certificates and renews them with a third left) once half its renewal
 * window has passed, so a healthy internal certificate is never reported.
 */
export function expiryWarnMs(c: Pick<CertificateFacts, "notBefore" | "notAfter">): number {
    const lifetime = Date.parse(c.notAfter) - Date.parse(c.notBefore);
    return Math.min(EXPIRY_WARN_DAYS * DAY_MS, lifetime / 6);
}

function when(c: CertificateFacts, now: Date): string {
    const ms = Date.parse(c.notAfter) - now.getTime();
    const abs = Math.abs(ms);
    const days = Math.floor(abs / DAY_MS);
    const span = days >= 1 ? `${days} day${days === 1 ? "" : "s"}` : `${Math.round(abs / 3_600_000)} hours`;
    return ms < 0 ? `${span} ago` : `in ${span}`;
}

function describe(c: CertificateFacts): string {
    return `the certificate for ${c.names.join(", ") || "?"} (serial ${c.serial}, issuer ${c.issuer})`;
}

const LOGS = (container: string): string => `\`docker logs ${container} 2>&1 | grep -iE 'acme|tls|certificate'\``;

/** Findings for one proxy: a domain without a certificate, an expired one, one about to expire. */
export function certificateFindings(p: ProxyCertificates, now: Date): Finding[] {
    if (p.error) return [];
    const findings: Finding[] = [];
    const valid = p.certificates.filter((c) => !c.error);
    const acme = p.mode === "acme";
    // The certificate that serves a domain is the newest one covering it; older ones are leftovers.
    const judged = new Map<string, CertificateFacts>();
    for (const d of p.domains) {
        const best = valid.filter((c) => c.covers.includes(d)).sort((a, b) => Date.parse(b.notAfter) - Date.parse(a.notAfter))[0];
        if (best) {
            judged.set(best.path, best);
            continue;
        }
        findings.push({
            code: "CERT_NOT_ISSUED",
            severity: "error",
            role: "proxy",
            container: p.container,
            cause: `no certificate for ${d} in ${p.container}'s ${CADDY_CERT_DIR} (tls ${p.mode}): not issued yet, so browsers get a TLS error`,
            fix: acme
                ? `point the DNS A/AAAA record of ${d} at this host and open ports 80 and 443 to the internet (the CA connects to both); Caddy retries on its own, the reason is in ${LOGS(p.container)}`
                : `reload the proxy's config (\`pulumi up\`; Caddy's internal CA issues at load) and read ${LOGS(p.container)}`,
            pulumiUp: "keeps Caddy's data volume (certificates and ACME account survive a replacement); it cannot issue a certificate itself",
            reading: acme
                ? `likely causes: DNS for ${d} does not point to this host yet, or ports 80/443 are closed (firewall, another service on them, cartie:publicBind 127.0.0.1)`
                : "likely causes: the proxy has not loaded a site for this name yet, or its data volume was replaced",
        });
    }
    // Without domains on the label, every certificate Caddy manages is judged.
    const toJudge = p.domains.length > 0 ? [...judged.values()] : valid;
    for (const c of toJudge) {
        const left = Date.parse(c.notAfter) - now.getTime();
        const renewal = acme ? "Caddy renews ACME certificates a third of their lifetime ahead" : "Caddy renews internal certificates a third of their lifetime ahead";
        if (left <= 0) {
            findings.push({
                code: "CERT_EXPIRED",
                severity: "error",
                role: "proxy",
                container: p.container,
                cause: `${describe(c)} expired ${when(c, now)} (${c.notAfter}): browsers refuse the site`,
                fix: `renewal is failing: ${acme ? "check that DNS still points here and ports 80/443 are open, then " : ""}read ${LOGS(p.container)}`,
                pulumiUp: "keeps Caddy's data volume; renewal is Caddy's, not `pulumi up`'s",
                evidence: c.path,
            });
        } else if (left < expiryWarnMs(c)) {
            findings.push({
                code: "CERT_EXPIRING",
                severity: "warn",
                role: "proxy",
                container: p.container,
                cause: `${describe(c)} expires ${when(c, now)} (${c.notAfter}); ${renewal}, so renewal is failing`,
                fix: `${acme ? "check that DNS still points here and ports 80/443 are open, then " : ""}read ${LOGS(p.container)}`,
                pulumiUp: "keeps Caddy's data volume; renewal is Caddy's, not `pulumi up`'s",
                evidence: c.path,
            });
        }
    }
    return findings;
}

/** The report with the proxies' certificates and their findings; an error among them makes it unhealthy. */
export function withCertificates(report: DoctorReport, proxies: ProxyCertificates[], now: Date): DoctorReport {
    if (proxies.length === 0) return report;
    const added = proxies.flatMap((p) => certificateFindings(p, now));
    const notes = proxies.filter((p) => p.error).map((p) => `certificates of ${p.container} not read: ${p.error}`);
    return {
        ...report,
        certificates: proxies,
        findings: sortFindings([...report.findings, ...added]),
        healthy: report.healthy && !added.some((f) => f.severity === "error"),
        notes: [...report.notes, ...notes],
    };
}

/** The certificates section of the text report. */
export function renderCertificates(proxies: ProxyCertificates[]): string {
    const out: string[] = [];
    for (const p of proxies) {
        out.push(`Certificates of ${p.container} (tls ${p.mode}; domains ${p.domains.join(", ") || "none labelled"}):`);
        if (p.error) out.push(`  not read: ${p.error}`);
        else if (p.certificates.length === 0) out.push(`  none in ${CADDY_CERT_DIR}`);
        for (const c of p.certificates) {
            if (c.error) out.push(`  ${c.path}: ${c.error}`);
            else out.push(`  ${c.names.join(", ")}  issuer ${c.issuer}  serial ${c.serial}  expires ${c.notAfter} (${c.daysLeft} days)  ${c.issuerDir}`);
        }
    }
    return out.join("\n");
}
