/**
 * Resources an interrupted update was creating when it died ("pending creates" in the state).
 *
 * The engine records a create before asking the provider and the result after; killed between the
 * two, the state keeps a pending CREATE and the object may or may not exist. `pulumi up` only warns
 * and creates again (pulumi/pulumi#4265, #10394), which for a fixed-name container (the db, the
 * proxy) or the network fails on the name now taken. `pulumi refresh --import-pending-creates` did
 * not import them here (pulumi v3.248.0, non-interactive: the pending create was dropped and the
 * object left out of the state), so the restore removes what it can safely remove and lets the
 * update create it again: nothing in the state depends on a pending create, a container holds no
 * data (the db's is on its volume) and a new network has nothing attached. A volume is never
 * removed: creating a volume that exists gives the existing one, so it needs nothing. An object of
 * that name that is not this stack's is not touched: the restore stops and names it.
 */

export interface PendingOperation {
    resource: { urn: string; type: string; inputs?: Record<string, unknown> };
    type: string;
}

export type DockerKind = "container" | "network" | "volume";

/** The Docker object the provider would have created: kind and name, when the resource is one. */
export function dockerObjectOf(op: PendingOperation): { kind: DockerKind; name: string } | undefined {
    const name = op.resource.inputs?.name;
    if (typeof name !== "string" || name === "") return undefined;
    if (op.resource.type === "docker:index/container:Container") return { kind: "container", name };
    if (op.resource.type === "docker:index/network:Network") return { kind: "network", name };
    if (op.resource.type === "docker:index/volume:Volume") return { kind: "volume", name };
    return undefined;
}

export interface PendingPlan {
    /** Containers and networks of this stack the killed update made: removed, then created again. */
    remove: Array<{ kind: "container" | "network"; name: string }>;
    /** Objects of that name that are not this stack's: the restore stops and names them. */
    conflicts: Array<{ kind: DockerKind; name: string }>;
    /** Every pending create, forgotten so the update creates it again (`--clear-pending-creates`). */
    cleared: string[];
}

/** What exists under a name: undefined, or whether it carries this stack's label. */
export type Lookup = (kind: DockerKind, name: string) => Promise<{ ours: boolean } | undefined>;

export async function planPendingCreates(ops: PendingOperation[], lookup: Lookup): Promise<PendingPlan> {
    const plan: PendingPlan = { remove: [], conflicts: [], cleared: [] };
    for (const op of ops.filter((o) => o.type === "creating")) {
        plan.cleared.push(op.resource.urn);
        const obj = dockerObjectOf(op);
        if (!obj || obj.kind === "volume") continue;
        const found = await lookup(obj.kind, obj.name);
        if (!found) continue;
        if (found.ours) plan.remove.push({ kind: obj.kind, name: obj.name });
        else plan.conflicts.push(obj);
    }
    return plan;
}
