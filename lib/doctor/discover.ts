/**
 * Which containers on a host the doctor looks at, when nobody told it: the stack's own (by label,
 * any number per component: a deploy briefly runs two api containers), a compose project that looks
 * like the platform, and whatever publishes the platform's port. Pure: the host's container list in,
 * the choice and its reasons out.
 */
import { LABELS } from "../docker/labels";
import { Candidate, Role } from "./types";

export const COMPOSE_PROJECT_LABEL = "com.docker.compose.project";
export const COMPOSE_SERVICE_LABEL = "com.docker.compose.service";

/** One container as `docker ps -a` lists it. */
export interface HostContainer {
    id: string;
    name: string;
    image: string;
    state: string;
    labels: Record<string, string>;
    /** Host ports it publishes. */
    publishedPorts: number[];
}

export interface Located {
    id: string;
    name: string;
    role: Role;
    /** `stack`: labelled by this program; `legacy`: a compose project; `port`: something else publishing the platform's port. */
    origin: "stack" | "legacy" | "port";
}

export interface DiscoveryInput {
    containers: HostContainer[];
    project: string;
    stack: string;
    port: number;
    /** `--legacy`: wins over everything. */
    legacyFlag?: string;
    /** `cartie:legacyComposeProject` of the stack config: wins over discovery. */
    legacyConfig?: string;
    /** Look at the stack's containers (and a named project's) only, not at the rest of the host. */
    onlyNamed?: boolean;
    /** Ids of containers seen to run Prisma (environment or logs), read by the shell. */
    prismaContainers: ReadonlySet<string>;
}

export interface Discovery {
    located: Located[];
    legacyProject?: string;
    legacySource: "flag" | "config" | "discovered" | "none";
    /** Compose projects that look like the platform (when one was named, only that one). */
    candidates: Candidate[];
    /** Other stacks of this program with containers here. */
    otherStacks: string[];
    hostContainers: number;
}

/** A compose service name → the platform role it plays. */
export function roleOfService(service: string): Role {
    const s = service.toLowerCase();
    if (/^(db|postgres|postgresql|database)$/.test(s)) return "db";
    if (/^(api|backend|server)$/.test(s)) return "api";
    if (/^(web|frontend|spa|ui)$/.test(s)) return "web";
    if (/^(proxy|caddy|gateway)$/.test(s)) return "proxy";
    return "other";
}

/** `infra2-api-1` / `infra2_api_1` → `api` for project `infra2`. */
export function legacyService(name: string, project: string): string | undefined {
    const esc = project.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
    return new RegExp(`^/?${esc}[-_]([a-z0-9][a-z0-9_.-]*?)[-_]\\d+$`, "i").exec(name)?.[1];
}

const isPostgresImage = (image: string): boolean => /(^|[/_-])postgres(ql)?([:@_-]|$)/i.test(image);

function stackRole(c: HostContainer): Role {
    const comp = c.labels[LABELS.component];
    return comp === "db" || comp === "api" || comp === "web" || comp === "proxy" || comp === "routes" ? comp : "other";
}

/** The compose services of an api role, the ones worth asking whether they run Prisma. */
export function apiLikeComposeContainers(containers: HostContainer[]): HostContainer[] {
    return containers.filter((c) => c.labels[COMPOSE_PROJECT_LABEL] && !c.labels[LABELS.stack] && roleOfService(c.labels[COMPOSE_SERVICE_LABEL] ?? "") === "api");
}

/** Why a compose project looks like the platform, or undefined when it does not. */
export function judgeProject(project: string, members: HostContainer[], port: number, prisma: ReadonlySet<string>): Candidate | undefined {
    const roles = new Map<Role, string>();
    for (const c of members) {
        const service = c.labels[COMPOSE_SERVICE_LABEL] ?? legacyService(c.name, project) ?? "";
        const role = roleOfService(service);
        if (role !== "other" && !roles.has(role)) roles.set(role, service);
    }
    const postgres = members.find((c) => isPostgresImage(c.image));
    const prismaApi = members.find((c) => prisma.has(c.id));
    const publishes = members.find((c) => c.publishedPorts.includes(port));
    const signals: string[] = [];
    const order: Role[] = ["db", "api", "web", "proxy"];
    if (roles.size > 0) signals.push(`services ${order.flatMap((r) => roles.get(r) ?? []).join(", ")}`);
    if (postgres) signals.push(`a Postgres image (${postgres.image})`);
    if (prismaApi) signals.push(`a Prisma api (${prismaApi.name})`);
    if (publishes) signals.push(`${publishes.name} publishes port ${port}`);
    const looksLike = (roles.size >= 2 && (postgres !== undefined || prismaApi !== undefined)) || (postgres !== undefined && prismaApi !== undefined) || (publishes !== undefined && (roles.size >= 1 || postgres !== undefined || prismaApi !== undefined));
    if (!looksLike) return undefined;
    return { project, containers: members.map((c) => c.name).sort(), signals };
}

export function discover(input: DiscoveryInput): Discovery {
    const { containers, project, stack, port } = input;
    const located: Located[] = [];
    const taken = new Set<string>();
    const otherStacks = new Set<string>();
    for (const c of containers) {
        const labelledStack = c.labels[LABELS.stack];
        if (labelledStack === undefined) continue;
        if (labelledStack === stack && (c.labels[LABELS.project] ?? project) === project) {
            located.push({ id: c.id, name: c.name, role: stackRole(c), origin: "stack" });
            taken.add(c.id);
        } else otherStacks.add(labelledStack);
    }

    const byProject = new Map<string, HostContainer[]>();
    for (const c of containers) {
        const p = c.labels[COMPOSE_PROJECT_LABEL];
        if (!p || taken.has(c.id)) continue;
        byProject.set(p, [...(byProject.get(p) ?? []), c]);
    }
    const named = input.legacyFlag ?? input.legacyConfig;
    let legacyProject: string | undefined;
    let legacySource: Discovery["legacySource"] = "none";
    let candidates: Candidate[];
    if (named !== undefined) {
        legacyProject = named;
        legacySource = input.legacyFlag !== undefined ? "flag" : "config";
        // A named project is looked at whatever it looks like; by label, or by name for a hand-made one.
        const members = containers.filter((c) => !taken.has(c.id) && (c.labels[COMPOSE_PROJECT_LABEL] === named || (!c.labels[COMPOSE_PROJECT_LABEL] && legacyService(c.name, named) !== undefined)));
        candidates = members.length > 0 ? [judgeProject(named, members, port, input.prismaContainers) ?? { project: named, containers: members.map((c) => c.name).sort(), signals: [] }] : [];
    } else if (input.onlyNamed) {
        candidates = [];
    } else {
        candidates = [...byProject.entries()]
            .map(([p, members]) => judgeProject(p, members, port, input.prismaContainers))
            .filter((c): c is Candidate => c !== undefined)
            .sort((a, b) => a.project.localeCompare(b.project));
        if (candidates.length === 1) {
            legacyProject = candidates[0].project;
            legacySource = "discovered";
        }
    }
    if (legacyProject !== undefined) {
        for (const c of containers) {
            if (taken.has(c.id)) continue;
            const service = c.labels[COMPOSE_PROJECT_LABEL] === legacyProject ? (c.labels[COMPOSE_SERVICE_LABEL] ?? legacyService(c.name, legacyProject)) : c.labels[COMPOSE_PROJECT_LABEL] ? undefined : legacyService(c.name, legacyProject);
            if (service === undefined) continue;
            located.push({ id: c.id, name: c.name, role: roleOfService(service), origin: "legacy" });
            taken.add(c.id);
        }
    }
    // Whatever else publishes the platform's port: the proxy cannot start while it does. Containers
    // of a candidate not chosen (several look like the platform) are left to that choice.
    const undecided = new Set(candidates.flatMap((c) => (c.project === legacyProject ? [] : c.containers)));
    for (const c of input.onlyNamed ? [] : containers) {
        if (taken.has(c.id) || undecided.has(c.name) || !c.publishedPorts.includes(port)) continue;
        located.push({ id: c.id, name: c.name, role: "other", origin: "port" });
        taken.add(c.id);
    }
    return {
        located: located.sort((a, b) => a.name.localeCompare(b.name)),
        legacyProject,
        legacySource,
        candidates,
        otherStacks: [...otherStacks].sort(),
        hostContainers: containers.length,
    };
}

/** The exact command that looks at one candidate project. */
export function chooseCommand(stack: string, project: string): string {
    return `npm run doctor -- ${stack === "dev" ? "" : `--stack ${stack} `}--legacy ${project}`;
}
