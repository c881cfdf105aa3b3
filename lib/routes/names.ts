/**
 * The names the proxy routes by. Caddy's `dynamic a` upstreams ask the routes responder
 * (images/routes/responder.mjs, the cartie:platform:Routes component) for these names, so which
 * container serves a role is a record the release step rewrites, never a line of Caddy's config.
 */

/** The apps the proxy routes to. */
export type Role = "api" | "web";
export const ROLES: readonly Role[] = ["api", "web"];

/** `live`: what users reach; `candidate`: what the release's smoke check reaches first. */
export type Slot = "live" | "candidate";

export const ROUTES_ZONE = "cartie.internal";
/** The responder's alias on the platform network, and the port it answers on. */
export const ROUTES_ALIAS = "cartie-routes";
export const ROUTES_DNS_PORT = 53;
/** Where the responder keeps its records, on its own volume (a recreated responder answers the same). */
export const ROUTES_DIR = "/routes";
export const ROUTES_FILE = `${ROUTES_DIR}/records.json`;

/**
 * How long Caddy keeps an answer: `refresh` of its dynamic upstreams. A record written now is used
 * by every request that starts `ROUTES_REFRESH_MS` later, because Caddy caches one lookup per name
 * and looks up again on the first request after it is this old (caddy v2.6.2
 * modules/caddyhttp/reverseproxy/upstreams.go, `AUpstreams.GetUpstreams` and `aLookup.isFresh`).
 */
export const ROUTES_REFRESH_MS = 100;

export function routeName(role: Role, slot: Slot): string {
    return `${role}.${slot}.${ROUTES_ZONE}`;
}

/** Caddy's resolver address for the responder: UDP (a bare `host:port` would make Caddy's resolver dial TCP). */
export const ROUTES_RESOLVER = `udp/${ROUTES_ALIAS}:${ROUTES_DNS_PORT}`;

/** Which container serves each role. */
export type RoleContainers = Record<Role, string>;

/**
 * The responder's records: `live` is what users reach (absent before the first release is
 * routed: users then get a 503), `candidate` what the release's smoke check reaches.
 */
export interface Routes {
    live?: RoleContainers;
    candidate?: RoleContainers;
}

const SLOTS: readonly Slot[] = ["live", "candidate"];

/** The records file as the responder reads it (`records`: name → container). */
export function recordsFile(routes: Routes): string {
    const records: Record<string, string> = {};
    for (const slot of SLOTS) {
        const containers = routes[slot];
        if (containers) for (const role of ROLES) records[routeName(role, slot)] = containers[role];
    }
    return `${JSON.stringify({ records }, null, 1)}\n`;
}

/** The routes a records file holds; a slot without both roles (or a file that is not JSON) counts as absent. */
export function parseRecordsFile(text: string | undefined): Routes {
    if (!text) return {};
    let records: unknown;
    try {
        records = (JSON.parse(text) as { records?: unknown }).records;
    } catch {
        return {};
    }
    if (!records || typeof records !== "object") return {};
    const get = (role: Role, slot: Slot): string | undefined => {
        const v = (records as Record<string, unknown>)[routeName(role, slot)];
        return typeof v === "string" && v !== "" ? v : undefined;
    };
    const out: Routes = {};
    for (const slot of SLOTS) {
        const api = get("api", slot);
        const web = get("web", slot);
        if (api && web) out[slot] = { api, web };
    }
    return out;
}
