/**
 * What an update did, in a few lines a person reads after `npm run restore`: from the engine's
 * events (the Automation API's EngineEvent stream), every resource step that changed something,
 * grouped by what it did, with the inputs that made it change.
 */

export interface LoggedEvent {
    resourcePreEvent?: { metadata: { op: string; urn: string; type?: string; diffs?: string[] } };
    resOpFailedEvent?: { metadata: { op: string; urn: string } };
    diagnosticEvent?: { urn?: string; severity: string; message: string };
}

export interface UpdateSummary {
    lines: string[];
    /** Resources whose step failed. */
    failed: string[];
    /** The errors the engine reported on resources (what failed and why), one line each. */
    errors: Array<{ resource: string; message: string }>;
}

const QUIET = new Set(["same", "read", "refresh", "read-discard", "discard-replaced"]);
/** The engine emits a replacement as create-replacement, replace, delete-replaced: one "replaced" here. */
const VERB: Record<string, string> = { create: "created", update: "updated", replace: "replaced", delete: "deleted", import: "imported" };

export function summarizeEvents(events: LoggedEvent[]): UpdateSummary {
    const changed = new Map<string, { verb: string; name: string; diffs: Set<string> }>();
    const failed: string[] = [];
    const errors: UpdateSummary["errors"] = [];
    for (const e of events) {
        const pre = e.resourcePreEvent?.metadata;
        // The stack, providers and components (cartie:platform:*) only group the resources that change.
        const grouping = !pre?.type || pre.type.startsWith("pulumi:") || pre.type.startsWith("cartie:");
        if (pre && !QUIET.has(pre.op) && VERB[pre.op] && !grouping) {
            const name = pre.urn.split("::").pop() ?? pre.urn;
            const entry = changed.get(pre.urn) ?? { verb: VERB[pre.op], name, diffs: new Set<string>() };
            for (const d of pre.diffs ?? []) entry.diffs.add(d);
            changed.set(pre.urn, entry);
        }
        const f = e.resOpFailedEvent?.metadata;
        if (f) failed.push(f.urn.split("::").pop() ?? f.urn);
        const d = e.diagnosticEvent;
        if (d?.severity === "error") {
            const message = d.message.trim();
            // The engine's own closing line says nothing the resource's error did not.
            if (message && message !== "update failed") errors.push({ resource: d.urn?.split("::").pop() ?? "the update", message });
        }
    }
    const byVerb = new Map<string, string[]>();
    for (const c of changed.values()) {
        const list = byVerb.get(c.verb) ?? [];
        list.push(c.diffs.size > 0 ? `${c.name} (${[...c.diffs].sort().join(", ")})` : c.name);
        byVerb.set(c.verb, list);
    }
    const lines = changed.size === 0 ? ["nothing changed: the host already matched the program"] : [...byVerb].map(([verb, names]) => `${verb}: ${names.sort().join("; ")}`);
    return { lines, failed: [...new Set(failed)], errors };
}
