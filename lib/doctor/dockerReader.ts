/**
 * The doctor's thin Docker reader: dockerode (which honours DOCKER_HOST), read-only calls only
 * (ping, list, inspect, logs, archive GET) plus `psql` SELECTs in the db container and HTTP GETs
 * on the proxy's published port. Every log line leaves this module masked.
 */
import Docker from "dockerode";
import { LABELS } from "../docker/labels";
import { DB_NAME, DB_USER, looksSecretName, maskSecrets } from "../env";
import { readDatabaseState } from "../migration/run";
import { dockerMigrationTarget } from "../migration/dockerTarget";
import { ContainerFacts, DbFacts, ProbeResult, WebBundleFacts } from "./types";
import { HostContainer, Located } from "./discover";
import { DoctorInputError } from "./errors";
import * as tar from "tar-stream";
import { localProxyUrl } from "../verify";

/** Where dockerode connects, for messages. */
export function dockerEndpoint(env: NodeJS.ProcessEnv = process.env): string {
    return env.DOCKER_HOST && env.DOCKER_HOST.trim() !== "" ? `DOCKER_HOST=${env.DOCKER_HOST}` : "unix:///var/run/docker.sock";
}

function describeConnectError(err: unknown): string {
    const e = err as NodeJS.ErrnoException & { statusCode?: number };
    const code = e.code ?? (e.statusCode ? `HTTP ${e.statusCode}` : undefined);
    const base = `cannot reach the Docker daemon at ${dockerEndpoint()}`;
    if (code === "ENOENT") return `${base}: no socket there; is dockerd running?`;
    if (code === "ECONNREFUSED") return `${base}: connection refused; is dockerd running, and is DOCKER_HOST right?`;
    if (code === "EACCES") return `${base}: permission denied on the socket; run as a user in the docker group`;
    if (code === "ENOTFOUND" || code === "EAI_AGAIN") return `${base}: host not found; check DOCKER_HOST`;
    if (code === "ETIMEDOUT" || code === "TIMEOUT") return `${base}: no answer within 5 s; check DOCKER_HOST`;
    return `${base}: ${(e.message ?? String(err)).split("\n")[0]}`;
}

/** A connected client, or a DoctorInputError with one clear line. */
export async function connectDocker(): Promise<Docker> {
    let docker: Docker;
    try {
        docker = new Docker();
    } catch (err) {
        throw new DoctorInputError(`bad DOCKER_HOST (${dockerEndpoint()}): ${(err as Error).message.split("\n")[0]}`);
    }
    try {
        await withTimeout(docker.ping(), 5000);
    } catch (err) {
        throw new DoctorInputError(describeConnectError(err));
    }
    return docker;
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
    return new Promise<T>((resolve, reject) => {
        const t = setTimeout(() => reject(Object.assign(new Error("timeout"), { code: "TIMEOUT" })), ms);
        p.then(
            (v) => {
                clearTimeout(t);
                resolve(v);
            },
            (e: unknown) => {
                clearTimeout(t);
                reject(e instanceof Error ? e : new Error(String(e)));
            },
        );
    });
}

/** Every container on the host (`docker ps -a`), with what discovery needs. */
export async function listHost(docker: Docker): Promise<HostContainer[]> {
    const all = await docker.listContainers({ all: true });
    return all.map((c) => ({
        id: c.Id,
        name: (c.Names[0] ?? c.Id).replace(/^\//, ""),
        image: c.Image,
        state: c.State,
        labels: c.Labels ?? {},
        publishedPorts: [...new Set((c.Ports ?? []).filter((p) => p.PublicPort !== undefined && p.Type === "tcp").map((p) => p.PublicPort))],
    }));
}

/** Whether a container runs Prisma: a `PRISMA_*` variable (its image's own ENV counts), or Prisma in its last log lines. */
export async function runsPrisma(docker: Docker, id: string): Promise<boolean> {
    const container = docker.getContainer(id);
    try {
        const info = await container.inspect();
        if ((info.Config.Env ?? []).some((kv) => /^PRISMA_/.test(kv))) return true;
        const buf = await container.logs({ stdout: true, stderr: true, tail: 50, timestamps: false, follow: false });
        return /prisma|\bP[1-3]\d{3}\b/i.test(info.Config.Tty ? buf.toString("utf8") : demuxLogs(buf));
    } catch {
        // Gone between the list and now: it is not looked at anyway.
        return false;
    }
}

/** Splits Docker's multiplexed log stream (8-byte frame headers) into text; a TTY stream is plain. */
export function demuxLogs(buf: Buffer): string {
    const parts: string[] = [];
    let i = 0;
    const framed = buf.length >= 8 && (buf[0] === 1 || buf[0] === 2 || buf[0] === 0) && buf[1] === 0 && buf[2] === 0 && buf[3] === 0;
    if (!framed) return buf.toString("utf8");
    while (i + 8 <= buf.length) {
        const size = buf.readUInt32BE(i + 4);
        parts.push(buf.subarray(i + 8, i + 8 + size).toString("utf8"));
        i += 8 + size;
    }
    return parts.join("");
}

/** Values of the container's secret-looking variables, for masking. */
export function secretValuesOf(env: string[]): string[] {
    return env.flatMap((kv) => {
        const eq = kv.indexOf("=");
        if (eq <= 0) return [];
        const name = kv.slice(0, eq);
        const value = kv.slice(eq + 1);
        if (looksSecretName(name)) return [value, ...urlPassword(value)];
        // A URL: only its password is secret (maskSecrets also masks any user:password@ form).
        return /^[A-Z0-9_]*(URL|URI|DSN)$/.test(name) ? urlPassword(value) : [];
    });
}

function urlPassword(value: string): string[] {
    try {
        const u = new URL(value);
        return u.password ? [decodeURIComponent(u.password)] : [];
    } catch {
        return [];
    }
}

/** `cartie-dev-api:0123456789abcdef` → the content tag, when the tag looks like one. */
export function tagOfImage(image: string): string | undefined {
    const m = /:([0-9a-f]{16})$/.exec(image);
    return m?.[1];
}

export async function readContainer(docker: Docker, loc: Located, tail: number, knownSecrets: string[]): Promise<{ facts: ContainerFacts; info: Docker.ContainerInspectInfo }> {
    const container = docker.getContainer(loc.id);
    const info = await container.inspect();
    const env = info.Config.Env ?? [];
    const secrets = [...knownSecrets, ...secretValuesOf(env)];
    const mask = (s: string): string => maskSecrets(s, secrets);
    let logText = "";
    try {
        const buf = await container.logs({ stdout: true, stderr: true, tail, timestamps: false, follow: false });
        logText = info.Config.Tty ? buf.toString("utf8") : demuxLogs(buf);
    } catch {
        logText = "";
    }
    const logLines = logText
        .split(/\r?\n/)
        .filter((l) => l.trim() !== "")
        .slice(-tail)
        .map(mask);
    const health = info.State.Health;
    const healthStatus = health?.Status;
    const started = Date.parse(info.State.StartedAt);
    const running = info.State.Running && !info.State.Restarting;
    const labelTag = info.Config.Labels?.[LABELS.contentTag];
    const facts: ContainerFacts = {
        id: info.Id,
        name: loc.name,
        role: loc.role,
        origin: loc.origin,
        image: info.Config.Image,
        state: info.State.Status,
        health: healthStatus === "healthy" || healthStatus === "unhealthy" || healthStatus === "starting" ? healthStatus : health ? "none" : undefined,
        restartCount: info.RestartCount ?? 0,
        exitCode: info.State.Running && !info.State.Restarting ? undefined : info.State.ExitCode,
        uptimeSeconds: running && Number.isFinite(started) ? Math.max(0, Math.round((Date.now() - started) / 1000)) : undefined,
        contentTag: labelTag ?? tagOfImage(info.Config.Image),
        logLines,
        healthLog: (health?.Log ?? []).map((l) => mask(l.Output.replace(/\s+/g, " ").trim() || `exit ${l.ExitCode}`)).slice(-3),
        envNames: env.flatMap((kv) => {
            const eq = kv.indexOf("=");
            return eq > 0 && kv.slice(eq + 1).trim() !== "" ? [kv.slice(0, eq)] : [];
        }),
    };
    return { facts, info };
}

/** `NAME=value` of a container's environment (for non-secret settings like POSTGRES_USER). */
export function envValue(env: string[], name: string): string | undefined {
    const kv = env.find((e) => e.startsWith(`${name}=`));
    return kv?.slice(name.length + 1);
}

/** The migration history, read with SELECTs through psql in the db container. */
export async function readDb(dbName: string, info: Docker.ContainerInspectInfo): Promise<DbFacts> {
    if (!info.State.Running || info.State.Restarting) return { container: dbName, error: `${dbName} is not running` };
    const env = info.Config.Env ?? [];
    const target = dockerMigrationTarget({
        dbContainer: info.Id,
        network: "",
        image: "",
        databaseUrl: "",
        dbUser: envValue(env, "POSTGRES_USER") || DB_USER,
        dbName: envValue(env, "POSTGRES_DB") || envValue(env, "POSTGRES_USER") || DB_NAME,
    });
    try {
        const state = await withTimeout(readDatabaseState(target), 20000);
        return { container: dbName, state };
    } catch (err) {
        return { container: dbName, error: maskSecrets((err as Error).message.split("\n")[0], secretValuesOf(env)) };
    }
}

// ---- web bundle -----------------------------------------------------------------------------

/** Regular files of a tar stream (via tar-stream), stopping past `limit` bytes in total. */
export async function untar(stream: NodeJS.ReadableStream, limit: number = 64 * 1024 * 1024): Promise<{ name: string; data: Buffer }[]> {
    const files: { name: string; data: Buffer }[] = [];
    const extract = tar.extract();
    let total = 0;
    (stream as NodeJS.ReadableStream & { pipe<T extends NodeJS.WritableStream>(d: T): T }).pipe(extract);
    for await (const entry of extract) {
        const chunks: Buffer[] = [];
        for await (const chunk of entry as AsyncIterable<Buffer>) {
            total += chunk.length;
            if (total > limit) throw new Error(`archive larger than ${limit} bytes`);
            chunks.push(chunk);
        }
        if (entry.header.type === "file") files.push({ name: entry.header.name, data: Buffer.concat(chunks) });
    }
    return files;
}

/** URLs in JavaScript text that look like an API base (`http(s)://host[:port]/…`). */
export function urlsInBundle(js: string): string[] {
    const found = new Set<string>();
    const re = /https?:\/\/[A-Za-z0-9.[\]:-]+(?:\/[A-Za-z0-9._~%/-]*)?/g;
    let m: RegExpExecArray | null;
    while ((m = re.exec(js))) {
        const u = m[0].replace(/\/+$/, "");
        if (/\/\/(www\.)?w3\.org|reactjs\.org|vitejs\.dev/.test(u)) continue;
        found.add(u);
    }
    return [...found].sort();
}

/** Reads the SPA's JavaScript from the web container (GET archive of /srv) and looks for the API base URL. */
export async function readWebBundle(docker: Docker, c: ContainerFacts, expectedBase: string | undefined, root = "/srv"): Promise<WebBundleFacts> {
    try {
        const stream = await docker.getContainer(c.id).getArchive({ path: root });
        const files = (await untar(stream)).filter((f) => /\.(m?js)$/.test(f.name));
        if (files.length === 0) return { container: c.name, urls: [], containsExpected: false, error: `no JavaScript under ${root}` };
        const text = files.map((f) => f.data.toString("utf8")).join("\n");
        const want = expectedBase?.replace(/\/+$/, "");
        return { container: c.name, urls: urlsInBundle(text), containsExpected: want !== undefined && text.includes(want) };
    } catch (err) {
        const e = err as { statusCode?: number; message?: string };
        return { container: c.name, urls: [], containsExpected: false, error: e.statusCode === 404 ? `${root} not found in ${c.name}` : (e.message ?? String(err)).split("\n")[0] };
    }
}

// ---- proxy probe ----------------------------------------------------------------------------

/** Host URLs of the proxy's published port(s). */
export function publishedUrls(info: Docker.ContainerInspectInfo): string[] {
    const ports = info.NetworkSettings?.Ports ?? {};
    const urls: string[] = [];
    for (const [spec, bindings] of Object.entries(ports)) {
        if (!spec.endsWith("/tcp") || !bindings) continue;
        for (const b of bindings) {
            if (!b.HostPort) continue;
            urls.push(localProxyUrl(b.HostIp ?? "", b.HostPort));
        }
    }
    return [...new Set(urls)];
}

/** GET `/` and `/api/health` through the proxy: how the outside sees the platform. */
export async function probeProxy(name: string, info: Docker.ContainerInspectInfo, healthPath: string): Promise<ProbeResult[]> {
    if (!info.State.Running) return [];
    const out: ProbeResult[] = [];
    for (const base of publishedUrls(info).slice(0, 1)) {
        for (const p of ["/", healthPath]) {
            const url = `${base}${p}`;
            try {
                const res = await fetch(url, { signal: AbortSignal.timeout(4000), redirect: "manual" });
                await res.arrayBuffer().catch(() => undefined);
                out.push({ container: name, url, status: res.status });
            } catch (err) {
                out.push({ container: name, url, error: (err as Error).message.split("\n")[0] });
            }
        }
    }
    return out;
}
