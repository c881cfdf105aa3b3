/**
 * A view of the shared dockerd as if it were a host holding only one test's containers: a unix
 * socket that forwards every Engine API call to the real daemon untouched (inspect, logs, exec
 * with its hijacked stream, archive) except the container list, which it narrows to the names the
 * test owns. Other developers' containers on this machine would otherwise be part of "the host"
 * the doctor discovers. Every request is recorded, so a test can also prove the doctor only read.
 */
import * as fs from "node:fs";
import * as http from "node:http";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";

/** The real daemon: DOCKER_HOST when it is a unix socket, else Docker's default. */
const DAEMON_SOCKET = process.env.DOCKER_HOST?.startsWith("unix://") ? process.env.DOCKER_HOST.slice("unix://".length) : "/var/run/docker.sock";

export interface HostView {
    /** `unix://…` for DOCKER_HOST. */
    dockerHost: string;
    /** `METHOD /path` of every call the daemon received through this view, in order. */
    requests: string[];
    close(): Promise<void>;
}

/** Calls that change nothing: reads, plus running `psql` SELECTs through exec (which the doctor does in the db). */
export function isReadOnlyCall(call: string): boolean {
    const [method, url] = call.split(" ");
    const p = url.replace(/^\/v[0-9.]+/, "").split("?")[0];
    if (method === "GET" || method === "HEAD") return true;
    if (method === "POST" && (/^\/containers\/[^/]+\/exec$/.test(p) || /^\/exec\/[^/]+\/(start|resize)$/.test(p))) return true;
    return false;
}

export async function startHostView(owns: (name: string) => boolean): Promise<HostView> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "doctor-hostview-"));
    const socket = path.join(dir, "docker.sock");
    const requests: string[] = [];

    const server = http.createServer((req, res) => {
        requests.push(`${req.method} ${req.url}`);
        const listing = req.method === "GET" && /^(\/v[0-9.]+)?\/containers\/json(\?|$)/.test(req.url ?? "");
        const upstream = http.request({ socketPath: DAEMON_SOCKET, method: req.method, path: req.url, headers: req.headers }, (up) => {
            if (!listing) {
                res.writeHead(up.statusCode ?? 502, up.headers);
                up.pipe(res);
                return;
            }
            const chunks: Buffer[] = [];
            up.on("data", (c: Buffer) => chunks.push(c));
            up.on("end", () => {
                const all = JSON.parse(Buffer.concat(chunks).toString("utf8")) as { Names?: string[] }[];
                const mine = all.filter((c) => (c.Names ?? []).some((n) => owns(n.replace(/^\//, ""))));
                const body = JSON.stringify(mine);
                res.writeHead(up.statusCode ?? 200, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
                res.end(body);
            });
        });
        upstream.on("error", (err) => {
            res.writeHead(502);
            res.end(String(err));
        });
        req.pipe(upstream);
    });

    // `docker exec` upgrades the connection to a raw stream: pass it through byte for byte, half-closes included.
    server.on("upgrade", (req: http.IncomingMessage, client: net.Socket, head: Buffer) => {
        requests.push(`${req.method} ${req.url}`);
        const daemon = net.connect({ path: DAEMON_SOCKET, allowHalfOpen: true }, () => {
            const lines = [`${req.method} ${req.url} HTTP/${req.httpVersion}`];
            for (let i = 0; i < req.rawHeaders.length; i += 2) lines.push(`${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}`);
            daemon.write(`${lines.join("\r\n")}\r\n\r\n`);
            if (head.length > 0) daemon.write(head);
            client.pipe(daemon);
            daemon.pipe(client);
        });
        daemon.on("error", () => client.destroy());
        client.on("error", () => daemon.destroy());
    });

    await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(socket, resolve);
    });
    return {
        dockerHost: `unix://${socket}`,
        requests,
        close: async () => {
            server.closeAllConnections();
            await new Promise<void>((resolve) => server.close(() => resolve()));
            fs.rmSync(dir, { recursive: true, force: true });
        },
    };
}
