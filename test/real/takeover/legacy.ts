/**
 * The incident's host, built for real: a docker-compose-labelled legacy set (db on a named
 * volume holding rows made without Prisma history, an api in a restart loop, a web publishing
 * the public port on 127.0.0.1), and the takeover steps run the way the command resources run them.
 */
import { ChildProcess, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { takeoverEnvironment } from "../../../components/takeover";
import { COMPOSE_PROJECT_LABEL, COMPOSE_SERVICE_LABEL, TakeoverStep, takeoverCommand } from "../../../lib/takeover/types";
import { BASE, MIGRATIONS_DIR } from "../support/sample";
import { Cleanup, Exec, REPO, docker, dockerOk, execLikeCommandResource, waitFor } from "../support/run";

export const PG_DATA = "/var/lib/postgresql/data";

export interface Legacy {
    project: string;
    volume: string;
    network: string;
    db: string;
    api: string;
    web: string;
    port: number;
    password: string;
    backupDir: string;
}

/** The names docker compose gives a project's volume, network and containers. */
export function legacyNames(project: string, rest: Pick<Legacy, "port" | "password" | "backupDir">): Legacy {
    return {
        project,
        volume: `${project}_db-data`,
        network: `${project}_default`,
        db: `${project}-db-1`,
        api: `${project}-api-1`,
        web: `${project}-web-1`,
        ...rest,
    };
}

export function composeLabels(project: string, service: string): string[] {
    return ["--label", `${COMPOSE_PROJECT_LABEL}=${project}`, "--label", `${COMPOSE_SERVICE_LABEL}=${service}`, "--label", "com.docker.compose.container-number=1", "--label", "com.docker.compose.oneoff=False"];
}

/** psql inside a container over its local socket; SQL on stdin. */
export async function psql(container: string, sql: string, db = "cartie", user = "cartie"): Promise<string> {
    return (await dockerOk(["exec", "-i", container, "psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-At", "-U", user, "-d", db], { input: sql })).trim();
}

export async function waitPgReady(container: string, db = "cartie", user = "cartie"): Promise<void> {
    await waitFor(`postgres in ${container}`, async () => ((await docker(["exec", container, "pg_isready", "-U", user, "-d", db])).code === 0 ? true : undefined), 90_000);
    // pg_isready can answer during the init server's life; a query through psql proves the final one.
    await waitFor(`queries in ${container}`, async () => ((await docker(["exec", container, "psql", "-X", "-U", user, "-d", db, "-c", "SELECT 1"])).code === 0 ? true : undefined), 60_000);
}

/** `table → rows:md5 of every row` for each table of the public schema but Prisma's history: the data, not just counts. */
export async function tableChecksums(container: string, db = "cartie", user = "cartie"): Promise<Record<string, string>> {
    const tables = (await psql(container, "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> '_prisma_migrations' ORDER BY 1;", db, user)).split("\n").filter(Boolean);
    const out: Record<string, string> = {};
    for (const t of tables) {
        out[t] = await psql(container, `SELECT count(*) || ':' || coalesce(md5(string_agg(x::text, E'\\n' ORDER BY x::text)), '') FROM public."${t}" x;`, db, user);
    }
    return out;
}

/** How a compose file lays the legacy db out; every field unset is the incident's layout. */
export interface LegacyLayout {
    /** PGDATA of the legacy db (the official image's docs suggest `/var/lib/postgresql/data/pgdata`). */
    pgdata?: string;
    /** A host folder bind-mounted at the data directory instead of the named volume. */
    bindDir?: string;
    user?: string;
    db?: string;
    /** Rows of a table only the legacy app knows (`audit_log`); none when unset. */
    auditLogRows?: number;
    /** An api that idles instead of the incident's restart loop, so states and restart counts stay still to compare. */
    calmApi?: boolean;
}

/** A fingerprint of every row of `users`, to compare data, not just counts. */
export const USERS_FINGERPRINT = `SELECT count(*) || ':' || md5(coalesce(string_agg(id || '|' || email || '|' || "passwordHash" || '|' || role || '|' || "createdAt"::text, E'\\n' ORDER BY id), '')) FROM users;`;

export async function buildLegacy(opts: { project: string; port: number; password: string; rows: number; backupDir: string; cleanup: Cleanup; layout?: LegacyLayout }): Promise<Legacy> {
    const { project, port, password, rows, cleanup } = opts;
    const layout = opts.layout ?? {};
    const user = layout.user ?? "cartie";
    const dbName = layout.db ?? "cartie";
    const l = legacyNames(project, { port, password, backupDir: opts.backupDir });
    cleanup.volume(l.volume);
    cleanup.network(l.network);
    for (const c of [l.db, l.api, l.web]) cleanup.container(c);
    await dockerOk(["network", "create", "--label", `${COMPOSE_PROJECT_LABEL}=${project}`, "--label", "com.docker.compose.network=default", l.network]);
    if (!layout.bindDir) await dockerOk(["volume", "create", "--label", `${COMPOSE_PROJECT_LABEL}=${project}`, "--label", "com.docker.compose.volume=db-data", l.volume]);
    await dockerOk(
        [
            "run", "-d", "--name", l.db, "--network", l.network, "--network-alias", "db", "--restart", "always",
            ...composeLabels(project, "db"),
            "-v", `${layout.bindDir ?? l.volume}:${PG_DATA}`,
            ...(layout.pgdata ? ["-e", `PGDATA=${layout.pgdata}`] : []),
            "-e", `POSTGRES_USER=${user}`, "-e", `POSTGRES_DB=${dbName}`, "-e", "POSTGRES_PASSWORD",
            BASE.postgres,
        ],
        { env: { POSTGRES_PASSWORD: password } },
    );
    await waitPgReady(l.db, dbName, user);
    const sql = (text: string): Promise<string> => psql(l.db, text, dbName, user);
    // The old schema, made by hand: `users` exists, no _prisma_migrations.
    await sql(fs.readFileSync(path.join(MIGRATIONS_DIR, "v41_baseline/migration.sql"), "utf8"));
    await sql(
        `INSERT INTO users (id, email, "passwordHash", role, "createdAt")
         SELECT 'legacy-' || lpad(i::text, 6, '0'), 'user' || i || '@cartie.test', md5(i::text), CASE WHEN i % 10 = 0 THEN 'admin' ELSE 'user' END,
                timestamp '2025-01-01' + i * interval '1 minute'
         FROM generate_series(1, ${rows - 1}) AS i;
         INSERT INTO users (id, email, "passwordHash", role) VALUES ('legacy-tricky', E'line\\nbreak\\ttab\\\\slash \u00e9@cartie.test', E'\\\\.', 'user');`,
    );
    if (layout.auditLogRows) {
        // A table of the legacy app that Prisma knows nothing about: it must come through untouched too.
        await sql(`CREATE TABLE audit_log (id serial PRIMARY KEY, at timestamptz NOT NULL, note text);
                   INSERT INTO audit_log (at, note) SELECT timestamp '2025-01-01' + i * interval '1 hour', 'note ' || i FROM generate_series(1, ${layout.auditLogRows}) AS i;`);
    }
    // The api of the incident: crashes on start, restarted forever.
    await dockerOk([
        "run", "-d", "--name", l.api, "--network", l.network, "--network-alias", "api", "--restart", "always",
        ...composeLabels(project, "api"),
        ...(layout.calmApi
            ? [BASE.busybox, "sleep", "3600"]
            : [BASE.busybox, "sh", "-c", "echo 'PrismaClientKnownRequestError: The table public.User does not exist' >&2; sleep 1; exit 1"]),
    ]);
    // The web: holds the public port.
    await dockerOk([
        "run", "-d", "--name", l.web, "--network", l.network, "--network-alias", "web", "--restart", "always",
        ...composeLabels(project, "web"),
        "-p", `127.0.0.1:${port}:8080`,
        BASE.busybox, "sh", "-c", "mkdir -p /www && echo legacy > /www/index.html && exec httpd -f -p 8080 -h /www",
    ]);
    return l;
}

/** The environment the command resources give every step (the component's own function). */
export function stepEnvironment(l: Legacy, overrides: { dataVolume?: string; password?: string } = {}): Record<string, string> {
    return takeoverEnvironment({
        project: l.project,
        dataVolume: overrides.dataVolume ?? l.volume,
        postgresImage: BASE.postgres,
        publicPort: l.port,
        postgresPassword: overrides.password ?? l.password,
        backupDir: l.backupDir,
    });
}

/** One step, run as `local.Command` runs `create`: `sh -c '<command>'` in the project directory. */
export function runStep(step: TakeoverStep, env: Record<string, string>): Promise<Exec> {
    return execLikeCommandResource(takeoverCommand(step), env, REPO);
}

/**
 * Starts a step and SIGKILLs its whole process group (sh, node, the docker CLI) as soon as a line
 * matching `when` is printed: an interrupted `pulumi up`.
 */
export function runStepAndKill(step: TakeoverStep, env: Record<string, string>, when: RegExp): Promise<{ killed: boolean; output: string }> {
    return new Promise((resolve, reject) => {
        const child: ChildProcess = spawn("/bin/sh", ["-c", takeoverCommand(step)], { cwd: REPO, env: { ...process.env, ...env }, detached: true, stdio: ["ignore", "pipe", "pipe"] });
        let output = "";
        let killed = false;
        const onData = (d: Buffer): void => {
            output += d.toString();
            if (!killed && when.test(output) && child.pid !== undefined) {
                killed = true;
                process.kill(-child.pid, "SIGKILL");
            }
        };
        child.stdout?.on("data", onData);
        child.stderr?.on("data", onData);
        child.on("error", reject);
        child.on("close", () => resolve({ killed, output }));
    });
}

export async function containerExists(name: string): Promise<boolean> {
    return (await docker(["container", "inspect", name])).code === 0;
}

export async function volumeExists(name: string): Promise<boolean> {
    return (await docker(["volume", "inspect", name])).code === 0;
}

export async function projectContainers(project: string): Promise<string[]> {
    return (await dockerOk(["ps", "-a", "--filter", `label=${COMPOSE_PROJECT_LABEL}=${project}`, "--format", "{{.Names}}"])).split(/\s+/).filter(Boolean).sort();
}

/**
 * The platform's db on the adopted volume, as components/database.ts declares it: fixed name,
 * POSTGRES_* of the platform, the volume at the data directory, pg_isready healthcheck, alias db.
 */
export async function startPlatformDb(name: string, network: string, volume: string, password: string, cleanup: Cleanup): Promise<void> {
    cleanup.container(name);
    await dockerOk(
        [
            "run", "-d", "--name", name, "--network", network, "--network-alias", "db", "--restart", "unless-stopped", "--stop-timeout", "60",
            "-e", "POSTGRES_USER=cartie", "-e", "POSTGRES_DB=cartie", "-e", "POSTGRES_PASSWORD",
            "--mount", `type=volume,source=${volume},target=${PG_DATA}`,
            "--health-cmd", "pg_isready -U cartie -d cartie", "--health-interval", "2s", "--health-retries", "30",
            BASE.postgres,
        ],
        { env: { POSTGRES_PASSWORD: password } },
    );
    await waitPgReady(name);
}
