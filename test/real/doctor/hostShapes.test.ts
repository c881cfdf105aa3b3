/**
 * The doctor on hosts it was told nothing about: each shape built from scratch here (no fixture
 * shared with doctor.test.ts), seen through a view of the shared dockerd that holds only this
 * shape's containers (hostView.ts), diagnosed with as few flags as a new user would pass. Each
 * asserts the exit code, the containers named, the findings' codes, and that nothing on the host
 * changed: states, restart counts, start/finish times, images, volumes, and only read calls made.
 */
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { main } from "../../../lib/doctor/cli";
import { DoctorReport } from "../../../lib/doctor/types";
import { contentTag, contextDigest } from "../../../lib/build/context";
import { LABELS } from "../../../lib/docker/labels";
import { API_DIR, BASE, WEB_DIR, buildImage, copyApp, requireBaseImages } from "../support/sample";
import { Cleanup, REPO, docker, dockerOk, freePort, runId, waitFor } from "../support/run";
import { HostView, isReadOnlyCall, startHostView } from "./hostView";
import { apiEnvFlags } from "./support";

const id = runId();
const SECRETS = { postgresPassword: `pg-${id}-Kq7wXe2rTy9u`, jwtSecret: `jwt-${id}-Zr4tYu8iOp2aSd6fGh0jKl3zXc5vBn7m`, seedSuperadminPassword: `seed-${id}-Mn8bVc4xZq` };
const API_ENV = apiEnvFlags(SECRETS, { schema: false });
const SECRET_FLAGS = ["-c", `cartie:postgresPassword=${SECRETS.postgresPassword}`, "-c", `cartie:jwtSecret=${SECRETS.jwtSecret}`, "-c", `cartie:seedSuperadminPassword=${SECRETS.seedSuperadminPassword}`, "-c", "cartie:seedSuperadminEmail=admin@cartie.local"];
/** A stack's config as its test images were built: secrets, and the local Node base image (part of the content tag). */
const STACK_FLAGS = [...SECRET_FLAGS, "-c", `cartie:nodeImage=${BASE.node}`];

interface Run {
    code: number;
    out: string;
    err: string;
    report?: DoctorReport;
}

/** The doctor as `npm run doctor` runs it, against DOCKER_HOST=`dockerHost` (the CLI's `docker exec` honours it too). */
async function doctor(dockerHost: string, args: string[]): Promise<Run> {
    const saved = process.env.DOCKER_HOST;
    process.env.DOCKER_HOST = dockerHost;
    let out = "";
    let err = "";
    try {
        const code = await main(["--cwd", REPO, ...args], (s) => (out += s), (s) => (err += s));
        const report = args.includes("--json") && out.trim().startsWith("{") ? (JSON.parse(out) as DoctorReport) : undefined;
        return { code, out, err, report };
    } finally {
        if (saved === undefined) delete process.env.DOCKER_HOST;
        else process.env.DOCKER_HOST = saved;
    }
}

/** What "the host did not change" compares: every container's state and counters, the volumes and images it uses. */
async function snapshot(containers: string[], volumes: string[]): Promise<unknown> {
    const state = containers.length === 0 ? [] : (JSON.parse(await dockerOk(["inspect", ...containers])) as DockerInspect[]);
    const vols = volumes.length === 0 ? [] : (JSON.parse(await dockerOk(["volume", "inspect", ...volumes])) as { Name: string; CreatedAt: string; Labels: unknown; Mountpoint: string }[]);
    const images = [...new Set(state.map((c) => c.Image))];
    const imgs = images.length === 0 ? [] : (JSON.parse(await dockerOk(["image", "inspect", ...images])) as { Id: string; RepoTags: string[] }[]);
    return {
        containers: state.map((c) => ({ name: c.Name, id: c.Id, image: c.Image, status: c.State.Status, running: c.State.Running, restarting: c.State.Restarting, restarts: c.RestartCount, started: c.State.StartedAt, finished: c.State.FinishedAt, mounts: c.Mounts.map((m) => m.Name ?? m.Source) })),
        volumes: vols.map((v) => ({ name: v.Name, created: v.CreatedAt, labels: v.Labels, mountpoint: v.Mountpoint })),
        images: imgs.map((i) => ({ id: i.Id, tags: [...i.RepoTags].sort() })),
    };
}

interface DockerInspect {
    Id: string;
    Name: string;
    Image: string;
    RestartCount: number;
    State: { Status: string; Running: boolean; Restarting: boolean; StartedAt: string; FinishedAt: string };
    Mounts: { Name?: string; Source: string }[];
}

async function inspectOne(name: string): Promise<DockerInspect> {
    return (JSON.parse(await dockerOk(["inspect", name])) as DockerInspect[])[0];
}

const composeLabels = (project: string, service: string): string[] => ["--label", `com.docker.compose.project=${project}`, "--label", `com.docker.compose.service=${service}`, "--label", "com.docker.compose.oneoff=False"];
const stackLabels = (stack: string, component: string, tag?: string): string[] =>
    Object.entries({ [LABELS.project]: "cartie-platform", [LABELS.stack]: stack, [LABELS.component]: component, ...(tag ? { [LABELS.contentTag]: tag } : {}) }).flatMap(([k, v]) => ["--label", `${k}=${v}`]);
const HEALTHY = ["--health-cmd", "true", "--health-interval", "1s", "--health-retries", "1"];

/** A busybox "db" whose psql answers the doctor's two queries: tables and migration history. */
function fakePsqlScript(tables: string[], history: string[]): string {
    const stateRows = [...tables.map((t) => `table|${t}||`), "history-table|_prisma_migrations||"].join("\\n");
    const historyRows = history.map((m) => `migration|${m}|true|false`).join("\\n");
    return ["#!/bin/sh", 'sql="$(cat)"', 'case "$sql" in', `  *information_schema*) printf '${stateRows}\\n' ;;`, `  *_prisma_migrations*) printf '${historyRows}\\n' ;;`, "esac"].join("\n");
}
const withScript = (file: string, then: string): string[] => ["sh", "-c", `mkdir -p $(dirname ${file}) && printf '%s\\n' "$SCRIPT" > ${file} && chmod +x ${file} && ${then}`];

/** Runs the doctor with `args` and checks the host is exactly as before and that only read calls reached the daemon. */
async function unchanged(view: HostView | undefined, containers: string[], volumes: string[], fn: () => Promise<void>): Promise<void> {
    const before = await snapshot(containers, volumes);
    const from = view?.requests.length ?? 0;
    await fn();
    assert.deepEqual(await snapshot(containers, volumes), before, "nothing on the host changed");
    if (view) {
        const writes = view.requests.slice(from).filter((r) => !isReadOnlyCall(r));
        assert.deepEqual(writes, [], "the doctor only read");
        assert.ok(view.requests.length > from, "the doctor went through the view");
    }
}

const codesOf = (r: Run): string[] => (r.report?.findings ?? []).filter((f) => f.code !== "CONFIG_INVALID").map((f) => `${f.code}:${f.container ?? f.role}`);

describe("doctor on hosts it has never seen", function () {
    const cleanup = new Cleanup();
    const views: HostView[] = [];
    let currentApiTag = "";
    let staleApiImage = "";

    before(async function () {
        await requireBaseImages();
        // The incident's api: the current code with the schema from before the model was renamed (it expects table `User`).
        const tmp = fs.mkdtempSync(path.join(os.tmpdir(), `doctor-stale-api-${id}-`));
        cleanup.dir(tmp);
        copyApp(API_DIR, tmp);
        const schema = path.join(tmp, "prisma/schema.prisma");
        fs.writeFileSync(schema, fs.readFileSync(schema, "utf8").replace('@@map("users")', '@@map("User")'));
        staleApiImage = (await buildImage("cartie-real-cache/api-stale", tmp, { NODE_IMAGE: BASE.node }, false)).ref;
        currentApiTag = contentTag((await contextDigest(API_DIR, { NODE_IMAGE: BASE.node })).digest);
    });

    after(async function () {
        for (const v of views) await v.close();
        await cleanup.run();
        const left = (await docker(["ps", "-aq", "--filter", `name=${id}`])).stdout.trim();
        assert.equal(left, "", "every container of this run is removed");
    });

    async function view(prefix: string): Promise<HostView> {
        const v = await startHostView((name) => name.startsWith(prefix));
        views.push(v);
        return v;
    }

    async function run(name: string, args: string[], image: string, command: string[] = []): Promise<string> {
        cleanup.container(name);
        await dockerOk(["run", "-d", "--name", name, ...args, image, ...command]);
        return name;
    }

    describe("1. the incident under a compose project nobody named: api in a P2021 restart loop", function () {
        const project = `q${id}ops`;
        const n = (s: string): string => `${project}-${s}-1`;
        const network = `${project}_default`;
        const volume = `${project}_db-data`;
        let v: HostView;
        let json: Run;
        let text: Run;
        let restarts = 0;

        before(async function () {
            v = await view(project);
            cleanup.network(network);
            cleanup.volume(volume);
            await dockerOk(["network", "create", network]);
            await dockerOk(["volume", "create", "--label", `com.docker.compose.project=${project}`, volume]);
            await run(n("db"), [...composeLabels(project, "db"), "--network", network, "--network-alias", "db", "-v", `${volume}:/var/lib/postgresql/data`, "-e", "POSTGRES_USER=cartie", "-e", `POSTGRES_PASSWORD=${SECRETS.postgresPassword}`, "-e", "POSTGRES_DB=cartie"], BASE.postgres);
            await waitFor("postgres to accept connections", async () => ((await docker(["exec", n("db"), "pg_isready", "-U", "cartie", "-d", "cartie"])).code === 0 ? true : undefined), 60_000);
            // The incident's database: the app's tables, no migration history.
            await dockerOk(["exec", "-i", n("db"), "psql", "-U", "cartie", "-d", "cartie", "-v", "ON_ERROR_STOP=1"], {
                input: 'CREATE TABLE users (id text PRIMARY KEY, email text UNIQUE NOT NULL, "passwordHash" text NOT NULL, role text NOT NULL DEFAULT \'user\', "createdAt" timestamp(3) NOT NULL DEFAULT now());',
            });
            // The stale api lets the query's rejection escape at start, as the incident's did: Node prints it and exits 1.
            const crash = "require('./dist/db').createPrisma(process.env.DATABASE_URL).globalUser.findFirst().then(() => setInterval(() => {}, 1 << 30))";
            await run(
                n("api"),
                [
                    ...composeLabels(project, "api"),
                    "--network",
                    network,
                    "--restart",
                    "always",
                    ...apiEnvFlags(SECRETS),
                ],
                staleApiImage,
                ["node", "-e", crash],
            );
            await run(n("web"), [...composeLabels(project, "web"), "--network", network, "-e", 'SCRIPT=const base="http://localhost:3000/api";'], BASE.busybox, withScript("/srv/assets/index-old.js", "exec httpd -f -p 8080 -h /srv"));
            // Docker doubles the delay between restarts: once 8 are done the next waits 25.6 s, time to look twice with the counts still.
            const settled = await waitFor(
                "the api's 8th restart to fail",
                async () => {
                    const s = await inspectOne(n("api"));
                    return s.RestartCount >= 8 && s.State.Restarting && Date.now() - Date.parse(s.State.FinishedAt) < 2000 ? s : undefined;
                },
                150_000,
                200,
            );
            restarts = settled.RestartCount;
            await unchanged(v, [n("db"), n("api"), n("web")], [volume], async () => {
                json = await doctor(v.dockerHost, ["--json"]);
                text = await doctor(v.dockerHost, []);
            });
        });

        it("exits 1 and says it found the compose project by itself", function () {
            assert.equal(json.code, 1, json.err);
            assert.equal(text.code, 1, text.err);
            assert.equal(json.report?.legacyProject, project);
            assert.equal(json.report?.discovery?.legacySource, "discovered");
            assert.match(text.out.split("\n")[0], new RegExp(`^Cartie doctor: stack "dev" \\+ compose project "${project}", found on this host \\(services db, api, web; a Postgres image \\(local/postgres:15\\); a Prisma api \\(${n("api")}\\)\\)`));
        });

        it("names the project's containers", function () {
            assert.deepEqual(json.report?.containers.map((c) => `${c.name}:${c.role}:${c.origin}`), [`${n("api")}:api:legacy`, `${n("db")}:db:legacy`, `${n("web")}:web:legacy`]);
        });

        it("reads the real P2021 once: a stale image expecting table User, the restart loop its consequence with the count", function () {
            assert.deepEqual(codesOf(json), [`STALE_IMAGE:${n("api")}`, `STALE_IMAGE:${n("web")}`, `BASELINE_NEEDED:${n("db")}`, `MIGRATIONS_PENDING:${n("db")}`, "CONTAINER_MISSING:proxy", `WEB_API_BASE_MISMATCH:${n("web")}`]);
            const stale = json.report?.findings[0];
            assert.equal(stale?.severity, "error");
            assert.match(stale?.cause ?? "", /expects table "User", which the current schema does not have \(sessions, users\) \(Prisma P2021\)/);
            assert.match(stale?.evidence ?? "", /^The table `public\.User` does not exist in the current database\.$/);
            assert.deepEqual(stale?.consequences?.map((q) => [q.code, q.restartCount]), [["RESTART_LOOP", restarts]]);
            assert.ok(!json.report?.findings.some((f) => f.code === "TABLE_MISSING" || f.code === "RESTART_LOOP"), "one cause, one finding");
        });

        it("text and JSON say the same, and no secret is printed", function () {
            const numbered = [...text.out.matchAll(/^ *\d+\. \[\w+\] (\w+)(?: (\S+))?$/gm)].map((m) => `${m[1]}:${m[2] ?? ""}`);
            assert.deepEqual(numbered, (json.report?.findings ?? []).map((f) => `${f.code}:${f.container ?? ""}`));
            assert.match(text.out, new RegExp(`effect: {4}${n("api")} restarts in a loop: ${restarts} restarts, last exit code 1`));
            for (const s of Object.values(SECRETS)) assert.ok(!json.out.includes(s) && !text.out.includes(s), "secrets masked");
            assert.ok(!/"\?"|`\?`/.test(text.out));
            // The sample in docs/doctor.md is this output.
            if (process.env.DOCTOR_SAMPLE_OUT) fs.writeFileSync(process.env.DOCTOR_SAMPLE_OUT, text.out);
        });
    });

    describe("2. two compose projects that look like the platform", function () {
        const a = `q${id}shopa`;
        const b = `q${id}shopb`;
        let v: HostView;
        let r: Run;
        let j: Run;
        const names: string[] = [];

        before(async function () {
            v = await startHostView((name) => name.startsWith(`q${id}shop`));
            views.push(v);
            for (const p of [a, b]) {
                names.push(await run(`${p}-db-1`, [...composeLabels(p, "db"), "--entrypoint", "sleep"], BASE.postgres, ["3600"]));
                names.push(await run(`${p}-api-1`, [...composeLabels(p, "api"), "-e", "PRISMA_HIDE_UPDATE_MESSAGE=1"], BASE.busybox, ["sleep", "3600"]));
                names.push(await run(`${p}-web-1`, composeLabels(p, "web"), BASE.busybox, ["sleep", "3600"]));
            }
            await unchanged(v, names, [], async () => {
                r = await doctor(v.dockerHost, []);
                j = await doctor(v.dockerHost, ["--json"]);
            });
        });

        it("exits 2 and lists both with the exact command that chooses each", function () {
            assert.equal(r.code, 2, r.err);
            assert.equal(j.code, 2);
            const lines = r.out.trim().split("\n");
            assert.equal(lines[0], `Cartie doctor: no container of stack "dev"; 2 compose projects on this host look like the platform. Choose one:`);
            assert.match(lines[1], new RegExp(`^  npm run doctor -- --legacy ${a} {4}# services db, api, web; a Postgres image \\(local/postgres:15\\); a Prisma api \\(${a}-api-1\\)$`));
            assert.match(lines[2], new RegExp(`^  npm run doctor -- --legacy ${b} {4}#`));
            assert.deepEqual(j.report?.choose?.map((c) => c.command), [`npm run doctor -- --legacy ${a}`, `npm run doctor -- --legacy ${b}`]);
            assert.deepEqual(j.report?.containers, []);
            assert.deepEqual(codesOf(j), []);
        });

        it("the command it prints does choose one", async function () {
            const chosen = await doctor(v.dockerHost, ["--json", "--legacy", a]);
            assert.deepEqual(chosen.report?.containers.map((c) => c.name), [`${a}-api-1`, `${a}-db-1`, `${a}-web-1`]);
            assert.equal(chosen.report?.discovery?.legacySource, "flag");
        });
    });

    describe("3. the stack's containers (two api releases mid-deploy) plus a legacy project", function () {
        const stack = `q${id}st`;
        const legacy = `q${id}lg`;
        const apiNew = `cartie-${stack}-api-${id.slice(0, 6)}a`;
        const apiOld = `cartie-${stack}-api-${id.slice(0, 6)}b`;
        let v: HostView;
        let r: Run;
        let text: Run;
        const names: string[] = [];
        const stale = JSON.stringify({ level: 50, msg: "\nInvalid `prisma.globalUser.findFirst()` invocation:\n\n\nThe table `public.User` does not exist in the current database.", err: { type: "PrismaClientKnownRequestError", code: "P2021" } });

        before(async function () {
            v = await startHostView((name) => name.startsWith(`cartie-${stack}-`) || name.startsWith(legacy));
            views.push(v);
            names.push(await run(`cartie-${stack}-db`, [...stackLabels(stack, "db"), ...HEALTHY, "-e", `SCRIPT=${fakePsqlScript(["sessions", "users"], ["v41_baseline", "v42_add_sessions"])}`], BASE.busybox, withScript("/bin/psql", "exec sleep 3600")));
            const apiEnv = API_ENV;
            names.push(await run(apiNew, [...stackLabels(stack, "api", currentApiTag), ...HEALTHY, ...apiEnv], BASE.busybox, ["sleep", "3600"]));
            names.push(await run(apiOld, [...stackLabels(stack, "api", currentApiTag), ...apiEnv], BASE.busybox, ["sh", "-c", "echo 'cartie-api: SIGTERM received, shutting down'"]));
            names.push(await run(`cartie-${stack}-web`, [...stackLabels(stack, "web"), ...HEALTHY, "-e", 'SCRIPT=const b="http://localhost:8082/api";'], BASE.busybox, withScript("/srv/assets/index-new.js", "exec sleep 3600")));
            names.push(await run(`cartie-${stack}-proxy`, [...stackLabels(stack, "proxy"), ...HEALTHY], BASE.busybox, ["sleep", "3600"]));
            names.push(await run(`${legacy}-db-1`, [...composeLabels(legacy, "db"), "--entrypoint", "sleep"], BASE.postgres, ["3600"]));
            names.push(await run(`${legacy}-api-1`, [...composeLabels(legacy, "api"), ...API_ENV, "-e", "SCRIPT=" + stale], BASE.busybox, ["sh", "-c", 'printf "%s\\n" "$SCRIPT" >&2; exit 1']));
            names.push(await run(`${legacy}-web-1`, composeLabels(legacy, "web"), BASE.busybox, ["sleep", "3600"]));
            await waitFor("the old api release and the legacy api to have exited, the rest healthy", async () => {
                const states = await Promise.all(names.map(inspectOne));
                const exited = states.filter((s) => s.State.Status === "exited").map((s) => s.Name.slice(1)).sort();
                const healthy = await Promise.all([`cartie-${stack}-db`, apiNew, `cartie-${stack}-web`, `cartie-${stack}-proxy`].map(async (c) => (await dockerOk(["inspect", "-f", "{{.State.Health.Status}}", c])).trim() === "healthy"));
                return exited.join() === [apiOld, `${legacy}-api-1`].sort().join() && healthy.every(Boolean) ? true : undefined;
            });
            await unchanged(v, names, [], async () => {
                r = await doctor(v.dockerHost, ["--stack", stack, "--json", ...STACK_FLAGS]);
                text = await doctor(v.dockerHost, ["--stack", stack, ...STACK_FLAGS]);
            });
        });

        it("exits 1, includes both, and says the legacy project was found", function () {
            assert.equal(r.code, 1, r.err);
            assert.equal(r.report?.discovery?.legacySource, "discovered");
            assert.deepEqual(r.report?.containers.map((c) => `${c.name}:${c.role}:${c.origin}`), [
                `${apiNew}:api:stack`,
                `${apiOld}:api:stack`,
                `cartie-${stack}-db:db:stack`,
                `cartie-${stack}-proxy:proxy:stack`,
                `cartie-${stack}-web:web:stack`,
                `${legacy}-api-1:api:legacy`,
                `${legacy}-db-1:db:legacy`,
                `${legacy}-web-1:web:legacy`,
            ]);
            assert.match(text.out.split("\n")[0], new RegExp(`^Cartie doctor: stack "${stack}" \\+ compose project "${legacy}", found on this host`));
        });

        it("the legacy api's P2021 (a JSON log line) is its one cause; the old release mid-deploy is no error", function () {
            assert.deepEqual(codesOf(r), [`STALE_IMAGE:${legacy}-api-1`, `STALE_IMAGE:${legacy}-web-1`, `SUPERSEDED:${apiOld}`]);
            const f = r.report?.findings.find((x) => x.container === `${legacy}-api-1`);
            assert.match(f?.cause ?? "", /expects table "User"/);
            assert.deepEqual(f?.consequences?.map((q) => q.code), ["CONTAINER_DOWN"]);
            assert.equal(r.report?.findings.find((x) => x.code === "SUPERSEDED")?.severity, "info");
        });

        it("cartie:legacyComposeProject wins over discovery, --legacy over both", async function () {
            const configured = await doctor(v.dockerHost, ["--stack", stack, "--json", ...STACK_FLAGS, "-c", `cartie:legacyComposeProject=${legacy}x`]);
            assert.equal(configured.report?.discovery?.legacySource, "config");
            assert.deepEqual(configured.report?.containers.filter((c) => c.origin !== "stack"), [], "the configured project is not here, and discovery does not pick another");
            const flagged = await doctor(v.dockerHost, ["--stack", stack, "--json", ...STACK_FLAGS, "-c", `cartie:legacyComposeProject=${legacy}x`, "--legacy", legacy]);
            assert.equal(flagged.report?.discovery?.legacySource, "flag");
            assert.equal(flagged.report?.containers.filter((c) => c.origin === "legacy").length, 3);
        });
    });

    describe("4. a healthy platform (two api releases both running, mid-deploy)", function () {
        const stack = `q${id}ok`;
        let v: HostView;
        let r: Run;
        let port = 0;
        const names: string[] = [];

        before(async function () {
            port = await freePort();
            v = await startHostView((name) => name.startsWith(`cartie-${stack}-`));
            views.push(v);
            const c = (s: string): string => `cartie-${stack}-${s}`;
            const apiEnv = API_ENV;
            const webTag = contentTag((await contextDigest(WEB_DIR, { NODE_IMAGE: BASE.node, VITE_API_BASE_URL: `http://localhost:${port}/api` })).digest);
            names.push(await run(c("db"), [...stackLabels(stack, "db"), ...HEALTHY, "-e", `SCRIPT=${fakePsqlScript(["sessions", "users"], ["v41_baseline", "v42_add_sessions"])}`], BASE.busybox, withScript("/bin/psql", "exec sleep 3600")));
            for (const suffix of ["1111111", "2222222"]) names.push(await run(c(`api-${suffix}`), [...stackLabels(stack, "api", currentApiTag), ...HEALTHY, ...apiEnv], BASE.busybox, ["sh", "-c", "echo 'cartie-api: listening on :3000 (database db:5432/cartie)'; exec sleep 3600"]));
            names.push(await run(c("web"), [...stackLabels(stack, "web", webTag), ...HEALTHY, "-e", `SCRIPT=const b="http://localhost:${port}/api";`], BASE.busybox, withScript("/srv/assets/index-ok.js", "exec sleep 3600")));
            names.push(await run(c("proxy"), [...stackLabels(stack, "proxy"), ...HEALTHY, "-p", `127.0.0.1:${port}:80`], BASE.busybox, ["sh", "-c", "mkdir -p /www/api && echo ok > /www/index.html && echo ok > /www/api/health && exec httpd -f -p 80 -h /www"]));
            await waitFor("all five to be healthy", async () => ((await Promise.all(names.map(async (x) => (await dockerOk(["inspect", "-f", "{{.State.Health.Status}}", x])).trim() === "healthy"))).every(Boolean) ? true : undefined));
            await unchanged(v, names, [], async () => {
                r = await doctor(v.dockerHost, ["--stack", stack, "--json", "-c", `cartie:publicPort=${port}`, ...STACK_FLAGS]);
            });
        });

        it("exits 0 with no finding, every container named, / and /api/health answering 200", function () {
            assert.deepEqual(r.report?.findings, [], JSON.stringify(r.report?.findings, null, 1));
            assert.equal(r.code, 0, r.err);
            assert.deepEqual(r.report?.containers.map((c) => c.name), names.slice().sort());
            assert.deepEqual(r.report?.probes.map((p) => p.status), [200, 200]);
            assert.equal(r.report?.discovery?.legacySource, "none");
        });
    });

    describe("5. the only container publishing the platform's port is not the platform", function () {
        const name = `q${id}np-web`;
        let v: HostView;
        let r: Run;
        let text: Run;
        let port = 0;

        before(async function () {
            port = await freePort();
            v = await startHostView((n) => n === name);
            views.push(v);
            await run(name, ["-p", `127.0.0.1:${port}:80`], BASE.busybox, ["sh", "-c", "mkdir -p /www && echo hello > /www/index.html && exec httpd -f -p 80 -h /www"]);
            await unchanged(v, [name], [], async () => {
                r = await doctor(v.dockerHost, ["--json", "-c", `cartie:publicPort=${port}`]);
                text = await doctor(v.dockerHost, ["-c", `cartie:publicPort=${port}`]);
            });
        });

        it("exits 1: the platform is not here and that container holds its port", function () {
            assert.equal(r.code, 1, r.err);
            assert.equal(text.code, 1);
            assert.deepEqual(r.report?.containers.map((c) => `${c.name}:${c.origin}`), [`${name}:port`]);
            assert.deepEqual(codesOf(r), ["PLATFORM_ABSENT:other", `PORT_TAKEN:${name}`]);
            assert.match(r.report?.findings.find((f) => f.code === "PORT_TAKEN")?.cause ?? "", new RegExp(`${name} \\(image local/busybox:1\\) publishes port ${port}`));
            assert.ok(!r.report?.findings.some((f) => f.code === "CONTAINER_MISSING"), "not four 'deploy the platform' errors");
        });
    });

    describe("6. no Docker daemon: DOCKER_HOST is a closed socket", function () {
        it("exits 2 with one line, and the real daemon's containers are untouched", async function () {
            const dir = fs.mkdtempSync(path.join(os.tmpdir(), "doctor-nodaemon-"));
            cleanup.dir(dir);
            const live = path.join(dir, "live.sock");
            const closed = path.join(dir, "docker.sock");
            // A socket file nobody listens on: listen, keep a second name for the socket, close (which removes the first).
            const server = net.createServer();
            await new Promise<void>((resolve) => server.listen(live, resolve));
            fs.linkSync(live, closed);
            await new Promise<void>((resolve) => server.close(() => resolve()));
            const canary = await run(`q${id}nd-canary`, [], BASE.busybox, ["sleep", "3600"]);
            await unchanged(undefined, [canary], [], async () => {
                const r = await doctor(`unix://${closed}`, []);
                assert.equal(r.code, 2);
                assert.equal(r.out, "");
                assert.equal(r.err.trim().split("\n").length, 1, r.err);
                assert.equal(r.err.trim(), `doctor: cannot reach the Docker daemon at DOCKER_HOST=unix://${closed}: connection refused; is dockerd running, and is DOCKER_HOST right?`);
            });
        });
    });

    describe("and the one-line answers", function () {
        it("an empty host", async function () {
            const v = await view(`q${id}empty-`);
            const r = await doctor(v.dockerHost, []);
            assert.equal(r.code, 1);
            assert.equal(r.out.trim().split("\n").length, 1, r.out);
            assert.match(r.out, new RegExp(`^Cartie doctor: the Cartie platform is not deployed here: this Docker host \\(DOCKER_HOST=${v.dockerHost.replace(/[/.]/g, "\\$&")}\\) has no containers at all\\. Fix: restore it with \`npm run restore\``));
        });

        it("a host with unrelated containers", async function () {
            const prefix = `q${id}un`;
            const v = await view(prefix);
            const names = [await run(`${prefix}-worker-1`, composeLabels(prefix, "worker"), BASE.busybox, ["sleep", "3600"]), await run(`${prefix}-cache`, [], BASE.busybox, ["sleep", "3600"])];
            await unchanged(v, names, [], async () => {
                const r = await doctor(v.dockerHost, []);
                assert.equal(r.code, 1);
                assert.equal(r.out.trim().split("\n").length, 1, r.out);
                assert.match(r.out, /^Cartie doctor: the Cartie platform is not deployed here: none of the 2 containers on this host .* is the platform: none labelled for stack "dev", no compose project that looks like it/);
                const j = await doctor(v.dockerHost, ["--json"]);
                assert.deepEqual(codesOf(j), ["PLATFORM_ABSENT:other"]);
            });
        });
    });
});
