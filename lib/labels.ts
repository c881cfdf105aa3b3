/** Labels on every Docker object the program declares, so tools (the doctor) find them without names. */
export const LABEL_PREFIX = "io.cartie.platform";
export const LABELS = {
    project: `${LABEL_PREFIX}.project`,
    stack: `${LABEL_PREFIX}.stack`,
    component: `${LABEL_PREFIX}.component`,
    contentTag: `${LABEL_PREFIX}.content-tag`,
    /** The db's data directory when it is below the volume's mount point (PGDATA). */
    pgdata: `${LABEL_PREFIX}.pgdata`,
} as const;

export type Component = "network" | "db" | "db-data" | "api" | "web" | "proxy";

export function platformLabels(project: string, stack: string, component: Component, extra: Record<string, string> = {}): { label: string; value: string }[] {
    const all: Record<string, string> = { [LABELS.project]: project, [LABELS.stack]: stack, [LABELS.component]: component, ...extra };
    return Object.keys(all)
        .sort()
        .map((label) => ({ label, value: all[label] }));
}
