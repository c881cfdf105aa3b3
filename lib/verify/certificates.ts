/** A failed HTTPS handshake read as a certificate problem, with the fix for how the certificate is issued. */
export type CertificateProblemKind = "name mismatch" | "not yet issued" | "untrusted issuer" | "expired" | "not yet valid";

export interface CertificateProblem {
    kind: CertificateProblemKind;
    problem: string;
    fix: string;
}

/** Node's codes for a certificate chain no trusted root signs. */
const UNTRUSTED = new Set(["DEPTH_ZERO_SELF_SIGNED_CERT", "SELF_SIGNED_CERT_IN_CHAIN", "UNABLE_TO_GET_ISSUER_CERT", "UNABLE_TO_GET_ISSUER_CERT_LOCALLY", "UNABLE_TO_VERIFY_LEAF_SIGNATURE", "CERT_UNTRUSTED", "CERT_SIGNATURE_FAILURE"]);
/**
 * Caddy answers a handshake for a name it has no certificate for (yet) with an alert; Node reports
 * it as EPROTO with OpenSSL's words ("tlsv1 alert internal error"), or under the alert's own code.
 */
const NO_CERTIFICATE = new Set(["ERR_SSL_TLSV1_ALERT_INTERNAL_ERROR", "ERR_SSL_TLSV1_UNRECOGNIZED_NAME", "ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE"]);
const NO_CERTIFICATE_ALERT = /alert (internal error|unrecognized name|handshake failure)/i;

/**
 * Names a failed HTTPS GET as the certificate problem it is, with its fix, or undefined when the
 * failure is not about the certificate (refused, timeout, a status).
 */
export function classifyCertificateError(code: string | undefined, message: string, url: string, mode: "acme" | "internal"): CertificateProblem | undefined {
    if (!code) return undefined;
    const host = new URL(url).hostname;
    const logs = "`docker logs <the proxy container>` (label io.cartie.platform.component=proxy) says why";
    if (code === "ERR_TLS_CERT_ALTNAME_INVALID") {
        // Node: "Host: x. is not in the cert's altnames: DNS:y" — the last "altnames:" lists the certificate's.
        const names = /.*altnames: (.*)$/.exec(message)?.[1];
        return {
            kind: "name mismatch",
            problem: `the certificate served for ${host} is not for that name${names ? ` (it names ${names})` : ""}`,
            fix: `add ${host} to cartie:domain (the proxy obtains one certificate per name) and run \`pulumi up\`; if it is there, check that DNS for ${host} points at this host`,
        };
    }
    if (code === "CERT_HAS_EXPIRED") {
        return {
            kind: "expired",
            problem: `the certificate served for ${host} has expired`,
            fix: `Caddy renews ${mode === "acme" ? "30 days" : "well"} before expiry unless it cannot: ${logs} (for ACME: ports 80/443 unreachable from the internet, DNS moved, a rate limit)`,
        };
    }
    if (code === "CERT_NOT_YET_VALID") {
        return { kind: "not yet valid", problem: `the certificate served for ${host} is not valid yet`, fix: "this host's clock is behind: sync it (timedatectl set-ntp true), then run `pulumi up` again" };
    }
    if (UNTRUSTED.has(code)) {
        return mode === "internal"
            ? {
                  kind: "untrusted issuer",
                  problem: `the certificate served for ${host} is not signed by the proxy's internal root (${code})`,
                  fix: "the root in the proxy's data volume and the certificate disagree: check that the proxy mounts its caddy-data volume, then `docker restart` it",
              }
            : {
                  kind: "untrusted issuer",
                  problem: `the certificate served for ${host} is not from a publicly trusted CA (${code}): not issued yet, or a staging/self-signed one`,
                  fix: `${logs}: the usual causes are a DNS A/AAAA record for ${host} that does not point at this host, or ports 80 and 443 closed to the internet`,
              };
    }
    if (NO_CERTIFICATE.has(code) || (code === "EPROTO" && NO_CERTIFICATE_ALERT.test(message))) {
        return {
            kind: "not yet issued",
            problem: `the proxy has no certificate for ${host} yet (the TLS handshake was refused: ${NO_CERTIFICATE_ALERT.exec(message)?.[0] ?? code})`,
            fix:
                mode === "acme"
                    ? `${logs}: ACME needs a DNS A/AAAA record for ${host} pointing at this host and ports 80 and 443 open to the internet; Caddy keeps retrying`
                    : `${logs}; check that ${host} is in cartie:domain`,
        };
    }
    return undefined;
}

/** GETs one URL until it answers 200 or the attempts run out (retries with p-retry's backoff). */
