/**
 * One release, the way Kamal's proxy does it but on plain Docker, and without touching Caddy's
 * config: the new containers pass their own health gate, then a smoke check through the proxy's
 * candidate listener (its routes point at them through the routes responder's `candidate`
 * records), and only then do the `live` records switch to them. Caddy's dynamic upstreams pick
 * the new records up within ROUTES_REFRESH_MS on the connections they already have open, so no
 * server restarts and no connection is reset. The old containers are drained (Caddy counts their
 * requests in flight) and stopped only after they left routing. A release that fails anywhere
 * before the switch leaves the live records as they were and removes its new containers, which
 * never served a user. A config load happens only when the routing itself changes (the first
 * start on a bootstrap config, a new path, port, HTTPS or access log), at most once per run.
 */
import { RoutedPorts, renderCaddyfile } from "../proxy/caddyfile";
import { ContainerReader, describeContainerFailure, waitUntilHealthy } from "../health/gate";
import { ROUTES_REFRESH_MS, RoleContainers, Routes } from "../routes/names";
import { ROLES, ReleaseSpec, Role } from "./spec";

/** What the release does on the host; `lib/release/dockerHost.ts` is the real one. */
export interface ReleaseHost extends ContainerReader {
    /** The routes responder's records now. */
    routes(routesContainer: string): Promise<Routes>;
    /** Replaces the responder's records (atomically: the next query sees all of them or none). */
    writeRoutes(routesContainer: string, routes: Routes): Promise<void>;
    /** The Caddyfile the proxy runs now. */
    currentCaddyfile(proxy: string): Promise<string | undefined>;
    /** Loads a config through Caddy's admin API and, only once it loaded, keeps it on the proxy's disk. */
    loadConfig(proxy: string, caddyfile: string): Promise<void>;
    /** GETs through the proxy from inside its container, one after another in one call: each status, or undefined with why. */
    getAll(proxy: string, urls: string[]): Promise<Array<{ status?: number; detail: string }>>;
    /** A container's IPv4 address on a network (what Caddy dials and counts requests by), undefined when it has none. */
    addressOn(container: string, network: string): Promise<string | undefined>;
    /** Requests in flight to one upstream address (`ip:port`) according to Caddy. */
    inFlight(proxy: string, upstream: string): Promise<number>;
    stop(container: string, graceSeconds: number): Promise<void>;
    remove(container: string): Promise<void>;
    /** This stack's containers of one role, by label. */
    containersOf(labels: ReleaseSpec["labels"], role: Role): Promise<string[]>;
    log(line: string): void;
}

export interface ReleaseSummary {
    /** Roles whose live container changed. */
    switched: Role[];
    live: RoleContainers;
    retired: string[];
    /** Milliseconds from the last new container passing its gate to every new user request going to it. */
    gateToSwitchMs?: number;
    healthyAt?: number;
    /** When the live records named the new containers (epoch ms). */
    switchedAt?: number;
    /** From this moment on every new request goes to the new containers: switchedAt plus Caddy's refresh. */
    servingAt?: number;
    /** Whether a new config went into Caddy (a full reload of its servers): only for a routing change or a bootstrap config. */
    configReloaded: boolean;
    /** Why it was loaded, when it was. */
    configReason?: string;
}

export class ReleaseError extends Error {
    constructor(message: string) {
        super(message);
        this.name = "ReleaseError";
    }
}

async function smoke(host: ReleaseHost, spec: ReleaseSpec): Promise<string | undefined> {
    const url = (p: string): string => `http://127.0.0.1:${spec.candidatePort}${p}`;
    // Every path in one round trip into the proxy (each `docker exec` costs a tenth of a second or more); a path that fails is tried twice more.
    const first = await host.getAll(spec.proxyContainer, spec.smokePaths.map(url));
    const problems: string[] = [];
    for (const [i, p] of spec.smokePaths.entries()) {
        let last = first[i] ?? { detail: "not tried" };
        for (let attempt = 2; attempt <= 3 && last.status !== 200; attempt++) {
            await host.sleep(1000);
            [last] = await host.getAll(spec.proxyContainer, [url(p)]);
        }
        if (last.status !== 200) problems.push(`GET ${p} through the proxy answered ${last.status ?? `nothing (${last.detail})`}, expected 200`);
    }
    return problems.length > 0 ? problems.join("; ") : undefined;
}

async function retire(host: ReleaseHost, spec: ReleaseSpec, containers: string[]): Promise<void> {
    for (const c of containers) {
        await host.stop(c, spec.stopGraceSeconds);
        await host.remove(c);
        host.log(`retired ${c} (SIGTERM, up to ${spec.stopGraceSeconds} s to finish, then removed)`);
    }
}

/** Waits until Caddy has no request in flight to the old upstream, bounded by the drain timeout. */
async function drain(host: ReleaseHost, spec: ReleaseSpec, upstream: string): Promise<void> {
    const until = host.now() + spec.drainTimeoutSeconds * 1000;
    for (;;) {
        const n = await host.inFlight(spec.proxyContainer, upstream).catch(() => 0);
        if (n === 0) return;
        if (host.now() >= until) {
            host.log(`drain: ${n} request(s) still in flight to ${upstream} after ${spec.drainTimeoutSeconds} s; stopping it with its grace period`);
            return;
        }
        await host.sleep(100);
    }
}

/** The config the proxy runs once routed: the same for every release of the same routing. */
export function routedCaddyfile(spec: Pick<ReleaseSpec, "listenPort" | "candidatePort" | "apiPathPrefix" | "accessLog" | "https"> & { ports: RoutedPorts }): string {
    return renderCaddyfile({ listenPort: spec.listenPort, candidatePort: spec.candidatePort, routed: spec.ports, apiPathPrefix: spec.apiPathPrefix, accessLog: spec.accessLog, https: spec.https });
}

/** A record written now is what every request starting this much later uses (Caddy's refresh, and a margin for the lookup itself). */
const PICKED_UP_MS = ROUTES_REFRESH_MS + 50;

const sameContainers = (a: RoleContainers | undefined, b: RoleContainers | undefined): boolean => !!a && !!b && a.api === b.api && a.web === b.web;

export async function runRelease(host: ReleaseHost, spec: ReleaseSpec, caddyfile: string): Promise<ReleaseSummary> {
    const proxy = spec.proxyContainer;
    const routes = await host.routes(spec.routesContainer);
    const live = routes.live;
    const switching = ROLES.filter((r) => live?.[r] !== spec.desired[r]);
    const keep = new Set(ROLES.map((r) => spec.desired[r]));
    const summary: ReleaseSummary = { switched: switching, live: spec.desired, retired: [], configReloaded: false };
    const running = await host.currentCaddyfile(proxy);
    /** The one config load a run may make, said in its output. */
    const loadIfNeeded = async (): Promise<void> => {
        if (running === caddyfile || summary.configReloaded) return;
        summary.configReason = running === undefined || !running.includes("dynamic a") ? "the proxy runs its bootstrap config (a new proxy): its routes are loaded once" : "the routing changed (path, port, HTTPS or access log): the new config is loaded once";
        await host.loadConfig(proxy, caddyfile);
        summary.configReloaded = true;
        host.log(`config loaded into the proxy: ${summary.configReason}`);
    };

    if (switching.length === 0) {
        await loadIfNeeded();
        // An interrupted release may have left the smoke check's records on its containers.
        if (!sameContainers(routes.candidate, live)) await host.writeRoutes(spec.routesContainer, { live, candidate: live });
        if (!summary.configReloaded) host.log("routes unchanged; nothing to switch, no config loaded");
    } else {
        host.log(`live: ${live ? `api ${live.api}, web ${live.web}` : "none (a proxy no release has routed yet)"}`);
        const fresh = switching.map((r) => spec.desired[r]);
        const refuse = async (what: string): Promise<never> => {
            for (const c of fresh) await host.remove(c).catch(() => undefined);
            const still = live ? `The live release keeps serving every request: api ${live.api}, web ${live.web}.` : "Nothing was serving yet; nothing was switched.";
            throw new ReleaseError(
                `release refused, nothing was switched:\n${what}\n${still}\nThe new container(s) ${fresh.join(", ")} never received a user request and were removed. ` +
                    "Fix the release and run `pulumi up` again; the same release fails the same way.",
            );
        };
        for (const role of switching) {
            const container = spec.desired[role];
            host.log(`gate: waiting for ${container} (${role}) to be healthy (at most ${spec.healthTimeoutSeconds} s)`);
            const failure = await waitUntilHealthy(host, container, role, spec.healthTimeoutSeconds * 1000);
            if (failure) return refuse(failure);
            host.log(`gate: ${container} is healthy`);
        }
        summary.healthyAt = host.now();

        // The smoke check's records: the new containers for the roles that switch, the live ones for the rest.
        const candidate: RoleContainers = { api: live && !switching.includes("api") ? live.api : spec.desired.api, web: live && !switching.includes("web") ? live.web : spec.desired.web };
        await host.writeRoutes(spec.routesContainer, { live, candidate });
        await loadIfNeeded();
        await host.sleep(PICKED_UP_MS);
        const smokeFailure = await smoke(host, spec);
        if (smokeFailure) {
            await host.writeRoutes(spec.routesContainer, { live, candidate: live });
            const details: string[] = [];
            for (const role of switching) {
                const c = spec.desired[role];
                details.push(await describeContainerFailure(host, c, role, "is healthy in its container but failed the smoke check through the proxy", await host.inspect(c)));
            }
            return refuse(`smoke check through the proxy failed for ${fresh.join(", ")}: ${smokeFailure}\n${details.join("\n")}`);
        }
        host.log(`smoke: ${spec.smokePaths.join(", ")} answer 200 through the proxy`);

        // Where Caddy reaches the old containers: it counts their requests in flight by that address.
        const old: Array<{ container: string; upstream?: string }> = [];
        for (const role of switching) {
            const c = live?.[role];
            if (!c || keep.has(c)) continue;
            const address = await host.addressOn(c, spec.network).catch(() => undefined);
            old.push({ container: c, upstream: address ? `${address}:${spec.ports[role]}` : undefined });
        }

        // The switch: one write. Requests already on their way finish where they are; every request
        // starting PICKED_UP_MS from now goes to the new containers, on the same client connections.
        await host.writeRoutes(spec.routesContainer, { live: spec.desired, candidate: spec.desired });
        summary.switchedAt = host.now();
        await host.sleep(PICKED_UP_MS);
        summary.servingAt = host.now();
        summary.gateToSwitchMs = summary.servingAt - summary.healthyAt;
        host.log(`switched ${switching.join(" and ")} to ${fresh.join(", ")} (records written; Caddy routes every new request there within ${ROUTES_REFRESH_MS} ms)`);

        for (const o of old) {
            if (o.upstream) await drain(host, spec, o.upstream);
            if (await host.inspect(o.container)) {
                await retire(host, spec, [o.container]);
                summary.retired.push(o.container);
            }
        }
    }

    // Leftovers of releases that failed or were interrupted never served a user: retire them too.
    for (const role of ROLES) {
        const others = (await host.containersOf(spec.labels, role)).filter((c) => !keep.has(c) && !summary.retired.includes(c));
        await retire(host, spec, others);
        summary.retired.push(...others);
    }
    return summary;
}

/**
 * The Release resource's delete (`--retire-leftovers`): it runs on `pulumi destroy`, and also when
 * the engine replaces the Release itself (`pulumi up --replace`, a new URN after a rename or a new
 * parent), after the new Release's create (seen on the real engine: test/real/engine/lifecycle).
 * So it may stop only containers nobody routes to: neither the spec's desired ones nor the ones
 * the proxy serves now. On `pulumi destroy` the provider then stops the live ones itself.
 */
export async function retireLeftovers(host: ReleaseHost, spec: ReleaseSpec): Promise<string[]> {
    const routes = await host.routes(spec.routesContainer).catch((): Routes => ({}));
    const routed = new Set([...ROLES.map((r) => spec.desired[r]), ...[routes.live, routes.candidate].flatMap((c) => (c ? ROLES.map((r) => c[r]) : []))]);
    const leftovers: string[] = [];
    for (const role of ROLES) leftovers.push(...(await host.containersOf(spec.labels, role)).filter((c) => !routed.has(c)));
    await retire(host, spec, leftovers);
    return leftovers;
}
