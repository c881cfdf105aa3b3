/**
 * The release's host operations through the `docker` CLI (honouring DOCKER_HOST, like the
 * migration step). Everything that touches the proxy runs inside its container: the admin API
 * and the candidate listener are on the container's loopback, reachable from nowhere else.
 */
import { docker } from "../docker/cli";
import { LABELS } from "../docker/labels";
import { ADMIN_ADDRESS } from "../proxy/caddyfile";
import { dockerContainerReader, isGone } from "../health/dockerContainers";
import { ROUTES_FILE, Routes, parseRecordsFile, recordsFile } from "../routes/names";
import { ReleaseHost } from "./release";
import { PROXY_CADDYFILE_PATH, ReleaseSpec, Role } from "./spec";

async function dockerOk(args: string[], input?: string): Promise<string> {
    const r = await docker(args, { input });
    if (r.code !== 0) throw new Error(`docker ${args.slice(0, 3).join(" ")} … failed (exit ${r.code}): ${r.stderr.trim() || r.stdout.trim()}`);
    return r.stdout;
}

/** Ends each wget's report in one smoke round trip (see getAll). */
const SMOKE_MARKER = "--cartie-smoke-exit";

/** The last HTTP status line wget -S printed (after redirects, the final answer). */
export function statusFromWget(stderr: string): number | undefined {
    const all = [...stderr.matchAll(/HTTP\/\d(?:\.\d)?\s+(\d{3})/g)];
    return all.length > 0 ? Number(all[all.length - 1][1]) : undefined;
}

/** Caddy's `/reverse_proxy/upstreams`: requests in flight to one address; absent means none. */
export function inFlightFrom(json: string, upstream: string): number {
    const list = JSON.parse(json) as Array<{ address: string; num_requests: number }>;
    return list.filter((u) => u.address === upstream).reduce((n, u) => n + u.num_requests, 0);
}

/** Each URL's answer from one getAll round trip: its wget report, then the marker line with wget's exit code. */
export function smokeResults(stdout: string, count: number, execError = ""): Array<{ status?: number; detail: string }> {
    const parts = stdout.split(new RegExp(`^${SMOKE_MARKER} (\\d+)$`, "m"));
    return Array.from({ length: count }, (_u, i) => {
        const text = parts[i * 2] ?? "";
        const code = parts[i * 2 + 1];
        const status = code === undefined ? undefined : statusFromWget(text);
        if (status !== undefined) return { status, detail: `status ${status}` };
        if (code === undefined) return { detail: `no answer: ${execError.trim() || "docker exec ended early"}` };
        return { detail: text.trim().split("\n").pop() || `wget exit ${code}` };
    });
}

export function dockerReleaseHost(log: (line: string) => void = (l) => process.stdout.write(`${l}\n`)): ReleaseHost {
    const exec = (proxy: string, args: string[], input?: string) => docker(["exec", ...(input !== undefined ? ["-i"] : []), proxy, ...args], { input });
    const readFile = async (proxy: string, file: string): Promise<string | undefined> => {
        const r = await exec(proxy, ["cat", file]);
        return r.code === 0 ? r.stdout : undefined;
    };
    const writeFile = async (proxy: string, file: string, content: string): Promise<void> => {
        const r = await exec(proxy, ["sh", "-c", 'cat > "$1"', "sh", file], content);
        if (r.code !== 0) throw new Error(`cannot write ${file} in ${proxy}: ${r.stderr.trim()}`);
    };
    return {
        ...dockerContainerReader(),
        async routes(routesContainer) {
            const r = await exec(routesContainer, ["cat", ROUTES_FILE]);
            if (r.code !== 0 && !/No such file/i.test(r.stderr)) throw new Error(`cannot read the routes in ${routesContainer}: ${r.stderr.trim()}`);
            return parseRecordsFile(r.code === 0 ? r.stdout : undefined);
        },
        async writeRoutes(routesContainer, routes: Routes) {
            // Written next to the file, then renamed: the responder reads a whole file or the previous one.
            const r = await exec(routesContainer, ["sh", "-c", 'cat > "$1.next" && mv -f "$1.next" "$1"', "sh", ROUTES_FILE], recordsFile(routes));
            if (r.code !== 0) throw new Error(`cannot write the routes in ${routesContainer}: ${r.stderr.trim()}`);
        },
        currentCaddyfile: (proxy) => readFile(proxy, PROXY_CADDYFILE_PATH),
        async loadConfig(proxy, caddyfile) {
            const next = `${PROXY_CADDYFILE_PATH}.next`;
            await writeFile(proxy, next, caddyfile);
            // Caddy adapts and loads it through its admin API; a config that fails to load is rolled back.
            const r = await exec(proxy, ["caddy", "reload", "--config", next, "--adapter", "caddyfile"]);
            if (r.code !== 0) throw new Error(`the proxy refused the new config (it keeps serving the previous one): ${r.stderr.trim() || r.stdout.trim()}`);
            // Only a config that loaded is kept on disk, so a restarted proxy comes back on it.
            await dockerOk(["exec", proxy, "mv", "-f", next, PROXY_CADDYFILE_PATH]);
        },
        async addressOn(container, network) {
            const r = await docker(["inspect", "-f", "{{json .NetworkSettings.Networks}}", container]);
            if (r.code !== 0) return undefined;
            const networks = JSON.parse(r.stdout) as Record<string, { IPAddress?: string }> | null;
            return networks?.[network]?.IPAddress || undefined;
        },
        async getAll(proxy, urls) {
            // One shell in the proxy runs them in order; a marker line separates each wget's report.
            const script = `for u in "$@"; do wget -S -q -O /dev/null -T 10 "$u" 2>&1; echo "${SMOKE_MARKER} $?"; done`;
            const r = await exec(proxy, ["sh", "-c", script, "sh", ...urls]);
            return smokeResults(r.stdout, urls.length, r.stderr);
        },
        async inFlight(proxy, upstream) {
            const r = await exec(proxy, ["wget", "-q", "-O", "-", `http://${ADMIN_ADDRESS}/reverse_proxy/upstreams`]);
            if (r.code !== 0) throw new Error(`cannot read the proxy's upstreams: ${r.stderr.trim()}`);
            return inFlightFrom(r.stdout, upstream);
        },
        async stop(container, graceSeconds) {
            const r = await docker(["stop", "-t", String(graceSeconds), container]);
            if (r.code !== 0 && !isGone(r.stderr)) throw new Error(`docker stop ${container} failed: ${r.stderr.trim()}`);
        },
        async remove(container) {
            const r = await docker(["rm", "-f", container]);
            if (r.code !== 0 && !isGone(r.stderr)) throw new Error(`docker rm ${container} failed: ${r.stderr.trim()}`);
        },
        async containersOf(labels: ReleaseSpec["labels"], role: Role) {
            const filters = [`${LABELS.project}=${labels.project}`, `${LABELS.stack}=${labels.stack}`, `${LABELS.component}=${role}`].flatMap((f) => ["--filter", `label=${f}`]);
            const out = await dockerOk(["ps", "-a", ...filters, "--format", "{{.Names}}"]);
            return out.split("\n").map((s) => s.trim()).filter(Boolean).sort();
        },
        log,
    };
}
