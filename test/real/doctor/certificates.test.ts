/**
 * The doctor's certificate report against a real Caddy 2.6 (local/caddy:2.6) serving `tls internal`
 * with its data directory on a named volume, found by its labels (its name says nothing). The
 * serial the doctor reports is the one Caddy serves over TLS. Everything is removed in `after`.
 */
import * as assert from "node:assert/strict";
import * as path from "node:path";
import * as tls from "node:tls";
import { main } from "../../../lib/doctor/cli";
import { CADDY_DATA_DIR } from "../../../lib/doctor/certificates";
import { DoctorReport } from "../../../lib/doctor/types";
import { LABELS } from "../../../lib/docker/labels";
import { Cleanup, docker, dockerOk, runId, waitFor } from "../support/run";
import { stackLabels } from "./support";

const PROJECT_DIR = path.resolve(__dirname, "../../..");
const CADDY = "local/caddy:2.6";

async function doctor(args: string[]): Promise<{ code: number; out: string; err: string }> {
    let out = "";
    let err = "";
    const code = await main(["--cwd", PROJECT_DIR, ...args], (s) => (out += s), (s) => (err += s));
    return { code, out, err };
}

/** The serial of the certificate the server presents for `servername` (hex, lowercase). */
function servedSerial(port: number, servername: string): Promise<string> {
    return new Promise((resolve, reject) => {
        const socket = tls.connect({ host: "127.0.0.1", port, servername, rejectUnauthorized: false }, () => {
            const serial = socket.getPeerCertificate().serialNumber;
            socket.end();
            resolve(serial.toLowerCase().replace(/^0+/, ""));
        });
        socket.on("error", reject);
        socket.setTimeout(5000, () => socket.destroy(new Error("TLS handshake timed out")));
    });
}

describe("doctor: the certificates of a real Caddy with tls internal", function () {
    this.timeout(180_000);
    const id = runId();
    const stack = `doctorcerts${id}`;
    const proxy = `edge-${id}`; // nothing in the name says proxy or stack: the labels do
    const volume = `cartie-${stack}-caddy-data`;
    const domain = `cert-${id}.test`;
    const missing = `missing-${id}.test`;
    const cleanup = new Cleanup();
    let port = 0;

    before(async function () {
        if ((await docker(["image", "inspect", CADDY])).code !== 0) throw new Error(`${CADDY} is missing: run test/real/support/base-images.sh`);
        const caddyfile = ["{", "\tskip_install_trust", "}", `${domain} {`, "\ttls internal", `\trespond "ok ${id}"`, "}", ""].join("\n");
        cleanup.volume(volume);
        await dockerOk(["volume", "create", ...stackLabels(stack, "proxy-data"), volume]);
        cleanup.container(proxy);
        await dockerOk([
            "run",
            "-d",
            "--name",
            proxy,
            ...stackLabels(stack, "proxy", undefined, { [LABELS.tls]: "internal", [LABELS.domains]: `${domain},${missing}` }),
            "-v",
            `${volume}:${CADDY_DATA_DIR}`,
            "-p",
            "127.0.0.1::443",
            "-e",
            `CADDYFILE=${caddyfile}`,
            CADDY,
            "sh",
            "-c",
            'printf "%s" "$CADDYFILE" > /etc/caddy/Caddyfile && exec caddy run --config /etc/caddy/Caddyfile --adapter caddyfile',
        ]);
        port = Number((await dockerOk(["port", proxy, "443/tcp"])).split("\n")[0].split(":").pop());
        await waitFor("Caddy to issue the internal certificate", async () => {
            const r = await docker(["exec", proxy, "find", `${CADDY_DATA_DIR}/caddy/certificates`, "-name", "*.crt"]);
            return r.code === 0 && r.stdout.includes(`${domain}.crt`) ? true : undefined;
        });
    });

    after(async () => {
        await cleanup.run();
        const left = await docker(["ps", "-aq", "--filter", `name=${proxy}`]);
        assert.equal(left.stdout.trim(), "", "the proxy of this run is removed");
    });

    it("reports the certificate Caddy serves (names, issuer, serial, expiry) and the labelled domain that has none", async () => {
        const r = await doctor(["--stack", stack, "--only-stack", "--no-db", "--json"]);
        const report = JSON.parse(r.out) as DoctorReport;
        assert.equal(report.schemaVersion, 2);
        const [certs, ...others] = report.certificates ?? [];
        assert.equal(others.length, 0);
        assert.ok(certs, r.out);
        assert.equal(certs.container, proxy);
        assert.equal(certs.mode, "internal");
        assert.deepEqual(certs.domains, [domain, missing]);
        assert.equal(certs.error, undefined);
        const leaf = certs.certificates.find((c) => c.names.includes(domain));
        assert.ok(leaf, JSON.stringify(certs, null, 1));
        assert.equal(leaf.path, `${CADDY_DATA_DIR}/caddy/certificates/local/${domain}/${domain}.crt`);
        assert.equal(leaf.issuerDir, "local");
        assert.match(leaf.issuer, /Caddy Local Authority/);
        assert.deepEqual(leaf.covers, [domain]);
        assert.ok(leaf.daysLeft > 0 && leaf.daysLeft < 1, `an internal certificate lives 12 hours: ${leaf.daysLeft} days left`);
        assert.equal(leaf.serial.replace(/^0+/, ""), await servedSerial(port, domain), "the serial of the certificate served over TLS");

        const certFindings = report.findings.filter((f) => f.code.startsWith("CERT_"));
        assert.deepEqual(
            certFindings.map((f) => [f.code, f.container]),
            [["CERT_NOT_ISSUED", proxy]],
        );
        assert.match(certFindings[0].cause, new RegExp(`no certificate for ${missing.replace(/\./g, "\\.")}`));
        assert.equal(report.healthy, false);
        assert.equal(r.code, 1);
    });

    it("prints the same in the text report", async () => {
        const r = await doctor(["--stack", stack, "--only-stack", "--no-db"]);
        assert.match(r.out, new RegExp(`Certificates of ${proxy} \\(tls internal; domains ${domain.replace(/\./g, "\\.")}, ${missing.replace(/\./g, "\\.")}\\):`));
        assert.match(r.out, new RegExp(`\\n  ${domain.replace(/\./g, "\\.")}  issuer .*Caddy Local Authority.*  serial [0-9a-f]+  expires \\S+ \\(0\\.\\d days\\)  local\\n`));
        assert.match(r.out, new RegExp(`\\[error\\] CERT_NOT_ISSUED ${proxy}\\n {4}cause: {5}no certificate for ${missing.replace(/\./g, "\\.")}`));
    });
});
