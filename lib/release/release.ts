/**
 * One release, the way Kamal's proxy does it but on plain Docker: the new containers pass their
 * own health gate, then a smoke check through the proxy's candidate listener, and only then does
 * the proxy's live config switch to them (Caddy's admin API swaps configs gracefully and keeps the
 * old one when a new one fails to load). The old containers are drained and stopped only after
 * they left routing. A release that fails anywhere before the switch leaves the live routes as
 * they were and removes its new containers, which never served a user.
 */
import { Upstreams, renderCaddyfile } from "../proxy/caddyfile";
import { ContainerReader, describeContainerFailure, waitUntilHealthy } from "../health/gate";
import { ROLES, ReleaseSpec, Role, containerOf } from "./spec";

/** What the release does on the host; `lib/release/dockerHost.ts` is the real one. */
export interface ReleaseHost extends ContainerReader {
    /** The routes the proxy serves now (its live-routes file), undefined when none. */
    liveRoutes(proxy: string): Promise<Upstreams | undefined>;
    /** The Caddyfile the proxy runs now. */
    currentCaddyfile(proxy: string): Promise<string | undefined>;
    /** Loads a config through Caddy's admin API and, only once it loaded, keeps it (and the routes) on the proxy's disk. */
    loadConfig(proxy: string, caddyfile: string, live: Upstreams | undefined): Promise<void>;
    /** GET through the proxy from inside its container: the status, or undefined with why. */
    get(proxy: string, url: string): Promise<{ status?: number; detail: string }>;
    /** Requests in flight to one upstream according to Caddy (0 once it left every loaded config). */
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
    live: Upstreams;
    retired: string[];
    /** Milliseconds from the last new container passing its gate to the switch being loaded. */
    gateToSwitchMs?: number;
    healthyAt?: number;
    switchedAt?: number;
    configReloaded: boolean;
}

export class ReleaseError extends Error {
    constructor(message: string) {
        super(message);
        this.name = "ReleaseError";
    }
}

async function smoke(host: ReleaseHost, spec: ReleaseSpec): Promise<string | undefined> {
    const problems: string[] = [];
    for (const p of spec.smokePaths) {
        const url = `http://127.0.0.1:${spec.candidatePort}${p}`;
        let last: { status?: number; detail: string } = { detail: "not tried" };
        for (let attempt = 1; attempt <= 3; attempt++) {
            last = await host.get(spec.proxyContainer, url);
            if (last.status === 200) break;
            if (attempt < 3) await host.sleep(1000);
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
        await host.sleep(250);
    }
}

export async function runRelease(host: ReleaseHost, spec: ReleaseSpec, liveCaddyfile: string): Promise<ReleaseSummary> {
    const proxy = spec.proxyContainer;
    const render = (live: Upstreams | undefined, candidate: Upstreams | undefined): string =>
        renderCaddyfile({ listenPort: spec.listenPort, candidatePort: spec.candidatePort, live, candidate, apiPathPrefix: spec.apiPathPrefix, accessLog: spec.accessLog, https: spec.https });
    const live = await host.liveRoutes(proxy);
    const switching = ROLES.filter((r) => live?.[r] !== spec.desired[r]);
    const keep = new Set(ROLES.map((r) => containerOf(spec.desired[r])));
    const summary: ReleaseSummary = { switched: switching, live: spec.desired, retired: [], configReloaded: false };

    if (switching.length === 0) {
        if ((await host.currentCaddyfile(proxy)) !== liveCaddyfile) {
            await host.loadConfig(proxy, liveCaddyfile, spec.desired);
            summary.configReloaded = true;
            host.log("routes unchanged; the proxy's config changed and was reloaded in place");
        } else {
            host.log("routes unchanged; nothing to switch");
        }
    } else {
        host.log(`live: ${live ? `api ${live.api}, web ${live.web}` : "none (a proxy no release has routed yet)"}`);
        const fresh = switching.map((r) => containerOf(spec.desired[r]));
        const refuse = async (what: string): Promise<never> => {
            for (const c of fresh) await host.remove(c).catch(() => undefined);
            const still = live ? `The live release keeps serving every request: api ${containerOf(live.api)}, web ${containerOf(live.web)}.` : "Nothing was serving yet; nothing was switched.";
            throw new ReleaseError(
                `release refused, nothing was switched:\n${what}\n${still}\nThe new container(s) ${fresh.join(", ")} never received a user request and were removed. ` +
                    "Fix the release and run `pulumi up` again; the same release fails the same way.",
            );
        };
        for (const role of switching) {
            const container = containerOf(spec.desired[role]);
            host.log(`gate: waiting for ${container} (${role}) to be healthy (at most ${spec.healthTimeoutSeconds} s)`);
            const failure = await waitUntilHealthy(host, container, role, spec.healthTimeoutSeconds * 1000);
            if (failure) return refuse(failure);
            host.log(`gate: ${container} is healthy`);
        }
        summary.healthyAt = host.now();

        const candidate: Upstreams = { api: switching.includes("api") || !live ? spec.desired.api : live.api, web: switching.includes("web") || !live ? spec.desired.web : live.web };
        await host.loadConfig(proxy, render(live, candidate), live);
        const smokeFailure = await smoke(host, spec);
        if (smokeFailure) {
            // Put the candidate listener back on the live release before saying anything else.
            await host.loadConfig(proxy, render(live, live), live);
            const details: string[] = [];
            for (const role of switching) {
                const c = containerOf(spec.desired[role]);
                details.push(await describeContainerFailure(host, c, role, "is healthy in its container but failed the smoke check through the proxy", await host.inspect(c)));
            }
            return refuse(`smoke check through the proxy failed for ${fresh.join(", ")}: ${smokeFailure}\n${details.join("\n")}`);
        }
        host.log(`smoke: ${spec.smokePaths.join(", ")} answer 200 through the proxy`);

        // The switch: users reach the new containers. The candidate listener keeps routing to the old
        // ones for now, so Caddy keeps counting the requests still in flight to them (an upstream no
        // loaded config names leaves /reverse_proxy/upstreams at once, its requests still running).
        const previous: Upstreams = { api: live && switching.includes("api") ? live.api : spec.desired.api, web: live && switching.includes("web") ? live.web : spec.desired.web };
        await host.loadConfig(proxy, render(spec.desired, previous), spec.desired);
        summary.switchedAt = host.now();
        summary.gateToSwitchMs = summary.switchedAt - summary.healthyAt;
        summary.configReloaded = true;
        host.log(`switched ${switching.join(" and ")} to ${fresh.join(", ")}`);

        for (const role of switching) {
            const old = live?.[role];
            if (!old || keep.has(containerOf(old))) continue;
            await drain(host, spec, old);
            if (await host.inspect(containerOf(old))) {
                await retire(host, spec, [containerOf(old)]);
                summary.retired.push(containerOf(old));
            }
        }
        await host.loadConfig(proxy, liveCaddyfile, spec.desired);
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
    const live = await host.liveRoutes(spec.proxyContainer).catch(() => undefined);
    const routed = new Set([...ROLES.map((r) => containerOf(spec.desired[r])), ...(live ? ROLES.map((r) => containerOf(live[r])) : [])]);
    const leftovers: string[] = [];
    for (const role of ROLES) leftovers.push(...(await host.containersOf(spec.labels, role)).filter((c) => !routed.has(c)));
    await retire(host, spec, leftovers);
    return leftovers;
}
