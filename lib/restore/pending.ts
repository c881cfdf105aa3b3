/**
 * Resources an interrupted update was creating when it died ("pending creates" in the state).
 *
 * The engine records a create before asking the provider, and the result after; killed between
 * the two, the state keeps a pending CREATE and the object may or may not exist. `pulumi up` only
 * warns about it and creates again (pulumi/pulumi#4265, #10394), which for a fixed-name container
 * (the db, the proxy) or the network fails on the name that is now taken. So before the next update:
 * an object that exists under the recorded name is imported (`pulumi refresh --import-pending-creates
 * <urn> <id>`), everything else is forgotten (`--clear-pending-creates`) and created again; an
 * app container created but not recorded is a leftover the Release step retires.
 */

export interface PendingOperation {
    resource: { urn: string; type: string; inputs?: Record<string, unknown> };
    type: string;
}

/** The Docker object the provider would have created: kind and name, when the resource is one. */
export function dockerObjectOf(op: PendingOperation): { kind: "container" | "network" | "volume"; name: string } | undefined {
    const name = op.resource.inputs?.name;
    if (typeof name !== "string" || name === "") return undefined;
    if (op.resource.type === "docker:index/container:Container") return { kind: "container", name };
    if (op.resource.type === "docker:index/network:Network") return { kind: "network", name };
    if (op.resource.type === "docker:index/volume:Volume") return { kind: "volume", name };
    return undefined;
}

export interface PendingPlan {
    /** `urn id` pairs for `--import-pending-creates`. */
    imports: Array<{ urn: string; id: string; what: string }>;
    /** Pending creates to forget (they are created again). */
    cleared: string[];
}

/** `idOf` answers the id of a Docker object by kind and name, or undefined when there is none. */
export async function planPendingCreates(ops: PendingOperation[], idOf: (kind: "container" | "network" | "volume", name: string) => Promise<string | undefined>): Promise<PendingPlan> {
    const plan: PendingPlan = { imports: [], cleared: [] };
    for (const op of ops.filter((o) => o.type === "creating")) {
        const obj = dockerObjectOf(op);
        const id = obj ? await idOf(obj.kind, obj.name) : undefined;
        if (obj && id) plan.imports.push({ urn: op.resource.urn, id, what: `${obj.kind} ${obj.name}` });
        else plan.cleared.push(op.resource.urn);
    }
    return plan;
}
