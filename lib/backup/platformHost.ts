/**
 * The stack's containers on the Docker host, found by the labels the program puts on them
 * (lib/labels.ts), never by a fixed name: api containers are named per release and, during a
 * deploy, two of them run.
 */
import { DB_NAME, DB_USER } from "../env";
import { docker } from "../docker/cli";
import { Component, LABELS } from "../docker/labels";
import { DbInContainer, liveCounts, loadDump, psqlIn } from "./postgres";
import { RestoreHost } from "./restore";

/** Names of the stack's containers of one component (only running ones unless `all`), sorted. */
export async function stackContainers(project: string, stack: string, component: Component, opts: { all?: boolean } = {}): Promise<string[]> {
    const filters = [`label=${LABELS.project}=${project}`, `label=${LABELS.stack}=${stack}`, `label=${LABELS.component}=${component}`];
    const r = await docker(["ps", ...(opts.all ? ["-a"] : []), ...filters.flatMap((f) => ["--filter", f]), "--format", "{{.Names}}"]);
    if (r.code !== 0) throw new Error(`docker ps failed: ${r.stderr.trim()}`);
    return r.stdout.split(/\s+/).filter(Boolean).sort();
}

/** The stack's running db container, or why there is none (the message says what to do). */
export async function findPlatformDb(project: string, stack: string): Promise<DbInContainer | string> {
    const running = await stackContainers(project, stack, "db");
    if (running.length === 1) return { container: running[0], user: DB_USER, database: DB_NAME };
    if (running.length > 1) return `more than one running db container is labelled for stack "${stack}" (${running.join(", ")}): stop the stray one`;
    const all = await stackContainers(project, stack, "db", { all: true });
    return all.length > 0
        ? `the db container of stack "${stack}" (${all.join(", ")}) is not running: start it (\`docker start ${all[0]}\`) or run \`pulumi up\``
        : `no db container is labelled for project "${project}", stack "${stack}" on this Docker host: check --stack (and DOCKER_HOST)`;
}

export function dockerRestoreHost(db: DbInContainer, project: string, stack: string): RestoreHost {
    // One docker call for all of them: Docker stops (or starts) them in parallel.
    const each = async (verb: "stop" | "start", names: string[]): Promise<void> => {
        if (names.length === 0) return;
        const r = await docker([verb, ...names], { timeoutMs: 180_000 });
        if (r.code !== 0) throw new Error(`docker ${verb} ${names.join(" ")} failed: ${r.stderr.trim()}`);
    };
    return {
        runningApis: () => stackContainers(project, stack, "api"),
        stop: (names) => each("stop", names),
        start: (names) => each("start", names),
        admin: (sql) => psqlIn(db, sql, "postgres"),
        load: (file, database) => loadDump(db, file, database),
        counts: (database) => liveCounts(db, database),
    };
}
