/**
 * Reads the proxy's certificates through `docker exec` (find, then cat of each `.crt`), into memory.
 * Only certificate files are read: the private keys next to them never leave the container, which
 * is why this is not an archive GET of the whole folder.
 */
import { Writable } from "node:stream";
import Docker from "dockerode";
import { LABELS } from "../docker/labels";
import { CADDY_CERT_DIR, ProxyCertificates, TlsMode, labelDomains, parseCertificate } from "./certificates";

/** More files than any real proxy has: a bound on what one doctor run reads. */
const MAX_CERT_FILES = 200;

interface ExecResult {
    code: number;
    stdout: string;
    stderr: string;
}

/** Runs a command (an argv, no shell) in a running container and collects its output. */
export async function execRead(docker: Docker, id: string, cmd: string[], timeoutMs = 10_000): Promise<ExecResult> {
    const exec = await docker.getContainer(id).exec({ Cmd: cmd, AttachStdout: true, AttachStderr: true, Tty: false });
    const stream = await exec.start({ hijack: true, stdin: false });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    const sink = (into: Buffer[]): Writable =>
        new Writable({
            write(chunk: Buffer, _encoding, done) {
                into.push(chunk);
                done();
            },
        });
    docker.modem.demuxStream(stream, sink(out), sink(err));
    await new Promise<void>((resolve, reject) => {
        const t = setTimeout(() => {
            stream.destroy();
            reject(new Error(`${cmd[0]} did not finish within ${timeoutMs / 1000} s`));
        }, timeoutMs);
        stream.on("end", () => {
            clearTimeout(t);
            resolve();
        });
        stream.on("error", (e: Error) => {
            clearTimeout(t);
            reject(e);
        });
    });
    const info = await exec.inspect();
    return { code: info.ExitCode ?? 1, stdout: Buffer.concat(out).toString("utf8"), stderr: Buffer.concat(err).toString("utf8") };
}

/** The proxy's TLS mode from its label, when it serves HTTPS itself. */
export function proxyTlsMode(labels: Record<string, string> | undefined): TlsMode | undefined {
    const v = labels?.[LABELS.tls]?.trim();
    return v === "acme" || v === "internal" ? v : undefined;
}

/** The certificates of a proxy whose tls label is acme or internal; undefined for any other proxy. */
export async function readProxyCertificates(docker: Docker, name: string, info: Docker.ContainerInspectInfo, now: Date): Promise<ProxyCertificates | undefined> {
    const labels = info.Config.Labels ?? {};
    const mode = proxyTlsMode(labels);
    if (!mode) return undefined;
    const base: ProxyCertificates = { container: name, mode, domains: labelDomains(labels[LABELS.domains]), certificates: [] };
    if (!info.State.Running || info.State.Restarting) return { ...base, error: `${name} is not running` };
    try {
        const list = await execRead(docker, info.Id, ["find", CADDY_CERT_DIR, "-type", "f", "-name", "*.crt"]);
        if (list.code !== 0) {
            // Caddy creates the folder with its first certificate: no folder is nothing issued yet.
            if (/No such file or directory/i.test(list.stderr)) return base;
            return { ...base, error: `find ${CADDY_CERT_DIR} failed (exit ${list.code}): ${list.stderr.trim().split("\n")[0]}` };
        }
        const paths = list.stdout
            .split("\n")
            .map((l) => l.trim())
            .filter((l) => l.endsWith(".crt"))
            .sort()
            .slice(0, MAX_CERT_FILES);
        const certificates = [];
        for (const p of paths) {
            const file = await execRead(docker, info.Id, ["cat", p]);
            certificates.push(
                file.code === 0
                    ? parseCertificate(p, file.stdout, base.domains, now)
                    : { ...parseCertificate(p, "", base.domains, now), error: `cannot read: ${file.stderr.trim().split("\n")[0]}` },
            );
        }
        return { ...base, certificates };
    } catch (e) {
        return { ...base, error: (e as Error).message.split("\n")[0] };
    }
}
