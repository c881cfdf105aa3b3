/** Labels on every Docker object the program declares, so tools (the doctor) find them without names. */
export const LABEL_PREFIX = "io.cartie.platform";
export const LABELS = {
    project: `${LABEL_PREFIX}.project`,
    stack: `${LABEL_PREFIX}.stack`,
    component: `${LABEL_PREFIX}.component`,
    contentTag: `${LABEL_PREFIX}.content-tag`,
    /** The db's data directory when it is below the volume's mount point (PGDATA). */
    pgdata: `${LABEL_PREFIX}.pgdata`,
    /** On the proxy: how it serves the public side (`acme`, `internal`, `off`), so preview and the policy pack see it. */
    tls: `${LABEL_PREFIX}.tls`,
    /** On the proxy: the host names it serves HTTPS for, comma-separated. */
    domains: `${LABEL_PREFIX}.domains`,
    /** On the proxy: what terminates TLS in front of a plain-HTTP public proxy (a load balancer), when the stack says so. */
    tlsTerminatedBy: `${LABEL_PREFIX}.tls-terminated-by`,
    /** On a proxy with TLS on: the ports Caddy serves HTTP (redirects, ACME) and HTTPS on, so the pack needs no copy of them in its config. */
    httpPort: `${LABEL_PREFIX}.http-port`,
    httpsPort: `${LABEL_PREFIX}.https-port`,
} as const;

/** db-secrets: the db's password file volume; proxy-data / proxy-config: Caddy's /data (certificates, ACME account) and /config; routes / routes-data: the routes responder and its records. */
export type Component = "network" | "db" | "db-data" | "db-secrets" | "api" | "web" | "proxy" | "proxy-data" | "proxy-config" | "routes" | "routes-data";

export function platformLabels(project: string, stack: string, component: Component, extra: Record<string, string> = {}): { label: string; value: string }[] {
    const all: Record<string, string> = { [LABELS.project]: project, [LABELS.stack]: stack, [LABELS.component]: component, ...extra };
    return Object.keys(all)
        .sort()
        .map((label) => ({ label, value: all[label] }));
}
