/**
 * The doctor against real containers: each failure signature reproduced with busybox, diagnosed
 * through the Docker Engine API, with the exit code checked; plus a healthy set. Every container
 * is removed in `after`, even when a test fails.
 */
import * as assert from "node:assert/strict";
import * as path from "node:path";
import { spawnSync } from "node:child_process";
import { main } from "../../../lib/doctor/cli";
import { DoctorReport } from "../../../lib/doctor/types";
import { validateConfig } from "../../../lib/config";
import { contentTag, contextDigest } from "../../../lib/build/context";
import { imageBuildArgs } from "../../../lib/build/buildArgs";
import { Created, apiEnvFlags, ensureBusybox, fakePsql, inspectState, installScript, sh, stackLabels, uniqueId, waitFor } from "./support";

const PROJECT_DIR = path.resolve(__dirname, "../../..");
const id = uniqueId();
const LEGACY = `infra2${id}`;
const SECRETS = { postgresPassword: `pg-${id}-Zq8vLw3nRt`, jwtSecret: `jwt-${id}-9fK2mXpQ7vLs4nRt8wYb3cHd6jGz1aEu`, seedSuperadminPassword: `seed-${id}-Hy5tRe2wQa` };
const SECRET_FLAGS = ["-c", `cartie:postgresPassword=${SECRETS.postgresPassword}`, "-c", `cartie:jwtSecret=${SECRETS.jwtSecret}`, "-c", `cartie:seedSuperadminPassword=${SECRETS.seedSuperadminPassword}`, "-c", "cartie:seedSuperadminEmail=admin@cartie.local"];
const P2021 = "PrismaClientKnownRequestError: Invalid `prisma.user.findFirst()` invocation: The table `public.User` does not exist in the current database.";
const CADDY_502 = '{"level":"error","logger":"http.log.error","msg":"dial tcp: lookup api on 127.0.0.11:53: no such host","request":{"method":"GET","uri":"/api/health"},"status":502}';

async function doctor(args: string[]): Promise<{ code: number; out: string; err: string; report?: DoctorReport }> {
    let out = "";
    let err = "";
    const code = await main(["--cwd", PROJECT_DIR, ...args], (s) => (out += s), (s) => (err += s));
    const report = args.includes("--json") && out.trim().startsWith("{") ? (JSON.parse(out) as DoctorReport) : undefined;
    return { code, out, err, report };
}

function composeLabels(service: string): string[] {
    return ["--label", `com.docker.compose.project=${LEGACY}`, "--label", `com.docker.compose.service=${service}`];
}

describe("doctor on a real Docker host", function () {
    const created = new Created();
    let apiTag = "";
    let webTag = "";

    before(async function () {
        if (sh("docker", ["info"]).code !== 0) throw new Error("dockerd is not answering: run .ci/setup-real.sh first");
        ensureBusybox();
        const cfg = validateConfig(
            {
                postgresPassword: { value: SECRETS.postgresPassword, source: "env" },
                jwtSecret: { value: SECRETS.jwtSecret, source: "env" },
                seedSuperadminPassword: { value: SECRETS.seedSuperadminPassword, source: "env" },
                seedSuperadminEmail: { value: "admin@cartie.local", source: "env" },
            },
            { projectDir: PROJECT_DIR, stack: "doctor", project: "cartie-platform" },
        );
        const args = imageBuildArgs(cfg);
        apiTag = contentTag((await contextDigest(path.join(cfg.appRootAbs, "apps/api"), args.api)).digest);
        webTag = contentTag((await contextDigest(path.join(cfg.appRootAbs, "apps/web"), args.web)).digest);
    });

    after(function () {
        created.cleanup();
        const left = sh("docker", ["ps", "-aq", "--filter", `name=${id}`]).stdout.trim();
        assert.equal(left, "", "every container of this run is removed");
    });

    describe("the incident (legacy compose project, stale api image, missing secret, no migration history)", function () {
        let result: Awaited<ReturnType<typeof doctor>>;

        before(async function () {
            created.run(`${LEGACY}-db-1`, [...composeLabels("db"), "-e", "POSTGRES_USER=cartie", "-e", `POSTGRES_PASSWORD=${SECRETS.postgresPassword}`, "-e", `SCRIPT=${fakePsql(["users"], undefined)}`], installScript("/bin/psql", "exec sleep 3600"));
            // The stale api: prints its start line (with the database password, to prove masking) and Prisma's P2021, then exits.
            created.run(
                `${LEGACY}-api-1`,
                [
                    ...composeLabels("api"),
                    "--restart",
                    "always",
                    ...apiEnvFlags(SECRETS, { omit: ["SEED_SUPERADMIN_PASSWORD"] }),
                ],
                ["sh", "-c", `echo "cartie-api: connecting to $DATABASE_URL (secret $JWT_SECRET)"; echo '${P2021}' >&2; exit 1`],
            );
            created.run(
                `${LEGACY}-web-1`,
                [...composeLabels("web"), "--health-cmd", "wget -q -O /dev/null http://127.0.0.1:8080/", "--health-interval", "1s", "--health-retries", "1", "--health-timeout", "2s", "-e", "SCRIPT=const b=\"http://localhost:3000/api\";fetch(b+\"/health\")"],
                installScript("/srv/assets/index-old.js", "exec sleep 3600").map((s, i) => (i === 2 ? `mkdir -p /srv/assets && ${s}` : s)),
            );
            await waitFor("the api to restart three times", () => inspectState(`${LEGACY}-api-1`).restartCount >= 3);
            await waitFor("the web to be unhealthy", () => inspectState(`${LEGACY}-web-1`).state.Health?.Status === "unhealthy");
            result = await doctor(["--stack", `doctor${id}`, "--legacy", LEGACY, "--json"]);
        });

        it("exits 1 and names the stale image, the missing secret and the pending baseline, in that order", function () {
            assert.equal(result.code, 1, result.err);
            const codes = result.report?.findings.map((f) => `${f.code}:${f.container ?? f.role}`) ?? [];
            const at = (c: string): number => codes.indexOf(c);
            assert.equal(codes[0], `STALE_IMAGE:${LEGACY}-api-1`, codes.join("\n"));
            assert.ok(at(`MISSING_ENV:${LEGACY}-api-1`) > 0, codes.join("\n"));
            assert.ok(at(`BASELINE_NEEDED:${LEGACY}-db-1`) > at(`MISSING_ENV:${LEGACY}-api-1`), codes.join("\n"));
            const stale = result.report?.findings[0];
            assert.match(stale?.cause ?? "", /expects table "User", which the current schema does not have/);
            assert.match(result.report?.findings.find((f) => f.code === "MISSING_ENV")?.cause ?? "", /SEED_SUPERADMIN_PASSWORD/);
            assert.equal(result.report?.migrations?.baselineNeeded, true);
            assert.deepEqual(result.report?.migrations?.appTables, ["users"]);
        });

        it("sees the restart loop, the unhealthy web and the web bundle built for another API URL", function () {
            // Symptoms are reported under their cause (one cause, one finding), with the restart count.
            const effects = result.report?.findings.flatMap((f) => (f.consequences ?? []).map((q) => `${q.code}:${q.container}<-${f.code}`)) ?? [];
            assert.ok(effects.includes(`RESTART_LOOP:${LEGACY}-api-1<-STALE_IMAGE`), effects.join("\n"));
            assert.ok(effects.includes(`UNHEALTHY:${LEGACY}-web-1<-WEB_API_BASE_MISMATCH`), effects.join("\n"));
            const mismatch = result.report?.findings.find((f) => f.code === "WEB_API_BASE_MISMATCH");
            assert.match(mismatch?.cause ?? "", /VITE_API_BASE_URL=http:\/\/localhost:3000\/api, but config says http:\/\/localhost:8082\/api/);
            const api = result.report?.containers.find((c) => c.name === `${LEGACY}-api-1`);
            assert.equal(api?.origin, "legacy");
            assert.ok((api?.restartCount ?? 0) >= 3);
        });

        it("masks every secret in the log lines it prints", async function () {
            assert.ok(!result.out.includes(SECRETS.postgresPassword), "db password masked");
            assert.ok(!result.out.includes(SECRETS.jwtSecret), "jwt secret masked");
            const text = await doctor(["--stack", `doctor${id}`, "--legacy", LEGACY]);
            assert.equal(text.code, 1);
            assert.match(text.out, /postgresql:\/\/cartie:\*\*\*@db:5432/);
            assert.ok(!text.out.includes(SECRETS.postgresPassword) && !text.out.includes(SECRETS.jwtSecret));
            assert.match(text.out, /^ 1\. \[error\] STALE_IMAGE/m);
            assert.match(text.out, /UNHEALTHY: \d+ errors/);
        });
    });

    it("a missing env var in a stack's api: names it, exit 1", async function () {
        const stack = `doctorenv${id}`;
        created.run(`cartie-${stack}-api-${id}`, [...stackLabels(stack, "api", apiTag), "--restart", "on-failure", "-e", "DATABASE_URL=postgresql://cartie:x@db:5432/cartie"], [
            "sh",
            "-c",
            "echo 'cartie-api: missing required environment variables: JWT_SECRET, SEED_SUPERADMIN_EMAIL, SEED_SUPERADMIN_PASSWORD' >&2; exit 1",
        ]);
        await waitFor("the api to fail", () => inspectState(`cartie-${stack}-api-${id}`).restartCount >= 1);
        const r = await doctor(["--stack", stack, "--only-stack", "--json", "--no-db", ...SECRET_FLAGS]);
        assert.equal(r.code, 1);
        const missing = r.report?.findings.find((f) => f.code === "MISSING_ENV");
        assert.match(missing?.cause ?? "", /JWT_SECRET, SEED_SUPERADMIN_EMAIL, SEED_SUPERADMIN_PASSWORD/);
        assert.match(missing?.fix ?? "", /pulumi config set --secret cartie:seedSuperadminPassword/);
        assert.ok(!r.report?.findings.some((f) => f.code === "STALE_IMAGE"), "the api's content tag is current");
    });

    it("a proxy answering 502 because its upstream is missing: exit 1", async function () {
        const stack = `doctorproxy${id}`;
        const respond = ["#!/bin/sh", "printf 'HTTP/1.1 502 Bad Gateway\\r\\nContent-Length: 0\\r\\nConnection: close\\r\\n\\r\\n'"].join("\n");
        created.run(`cartie-${stack}-proxy-${id}`, [...stackLabels(stack, "proxy"), "-p", "127.0.0.1::80", "-e", `SCRIPT=${respond}`], installScript("/bin/respond", `echo '${CADDY_502}'; exec nc -ll -p 80 -e /bin/respond`));
        await waitFor("the proxy to listen", () => inspectState(`cartie-${stack}-proxy-${id}`).state.Status === "running");
        await new Promise((r) => setTimeout(r, 500));
        const r = await doctor(["--stack", stack, "--only-stack", "--json", ...SECRET_FLAGS]);
        assert.equal(r.code, 1);
        const p502 = r.report?.findings.find((f) => f.code === "PROXY_502");
        assert.ok(p502, JSON.stringify(r.report?.findings, null, 1));
        assert.match(p502.cause, /answers 502 on http:\/\/127\.0\.0\.1:\d+\//);
        assert.match(p502.cause, /upstream "api" does not resolve/);
        assert.ok(r.report?.probes.some((p) => p.status === 502));
    });

    it("a healthy set reports healthy: exit 0, no findings", async function () {
        const stack = `doctorok${id}`;
        const n = (c: string): string => `cartie-${stack}-${c}-${id}`;
        const healthy = ["--health-cmd", "true", "--health-interval", "1s", "--health-retries", "1"];
        created.run(n("db"), [...stackLabels(stack, "db"), ...healthy, "-e", `SCRIPT=${fakePsql(["sessions", "users"], ["v41_baseline", "v42_add_sessions"])}`], installScript("/bin/psql", "exec sleep 3600"));
        created.run(
            n("api"),
            [
                ...stackLabels(stack, "api", apiTag),
                ...healthy,
                ...apiEnvFlags(SECRETS),
            ],
            ["sh", "-c", "echo 'cartie-api: listening on :3000 (database db:5432/cartie)'; exec sleep 3600"],
        );
        created.run(n("web"), [...stackLabels(stack, "web", webTag), ...healthy, "-e", 'SCRIPT=const b="http://localhost:8082/api";'], [
            "sh",
            "-c",
            'mkdir -p /srv/assets && printf "%s\\n" "$SCRIPT" > /srv/assets/index-ok.js && echo ok > /srv/index.html && exec httpd -f -p 8080 -h /srv',
        ]);
        created.run(n("proxy"), [...stackLabels(stack, "proxy"), ...healthy, "-p", "127.0.0.1::80"], ["sh", "-c", "mkdir -p /www/api && echo ok > /www/index.html && echo ok > /www/api/health && exec httpd -f -p 80 -h /www"]);
        await waitFor("all four to be healthy", () => ["db", "api", "web", "proxy"].every((c) => inspectState(n(c)).state.Health?.Status === "healthy"));
        const r = await doctor(["--stack", stack, "--only-stack", "--json", ...SECRET_FLAGS]);
        assert.deepEqual(r.report?.findings, [], JSON.stringify(r.report?.findings, null, 1));
        assert.equal(r.code, 0);
        assert.deepEqual(r.report?.migrations?.applied, ["v41_baseline", "v42_add_sessions"]);
        assert.ok(r.report?.probes.every((p) => p.status === 200), JSON.stringify(r.report?.probes));
        const text = await doctor(["--stack", stack, "--only-stack", ...SECRET_FLAGS]);
        assert.equal(text.code, 0);
        assert.match(text.out, /\nHEALTHY\n?$/);
        assert.ok(!text.out.includes(SECRETS.seedSuperadminPassword));
    });

    describe("bad input: one line, exit 2", function () {
        const script = path.join(PROJECT_DIR, "scripts/doctor.ts");
        const tsx = path.join(PROJECT_DIR, "node_modules/.bin/tsx");
        const runCli = (args: string[], env: NodeJS.ProcessEnv): { code: number; stdout: string; stderr: string } => {
            const r = spawnSync(tsx, [script, ...args], { cwd: PROJECT_DIR, env: { ...process.env, ...env }, encoding: "utf8", timeout: 60_000 });
            return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
        };

        it("no daemon at DOCKER_HOST", function () {
            const r = runCli([], { DOCKER_HOST: "tcp://127.0.0.1:1" });
            assert.equal(r.code, 2);
            assert.equal(r.stdout, "");
            assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
            assert.match(r.stderr, /^doctor: cannot reach the Docker daemon at DOCKER_HOST=tcp:\/\/127\.0\.0\.1:1: connection refused/);
        });

        it("a DOCKER_HOST socket that does not exist", function () {
            const r = runCli([], { DOCKER_HOST: `unix:///tmp/no-such-docker-${id}.sock` });
            assert.equal(r.code, 2);
            assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
            assert.match(r.stderr, /no socket there; is dockerd running\?/);
        });

        it("no such stack", function () {
            const r = runCli(["--stack", `nosuch${id}`, "--only-stack"], {});
            assert.equal(r.code, 2);
            assert.equal(r.stderr.trim(), `doctor: no such stack "nosuch${id}": no Pulumi.nosuch${id}.yaml in ${PROJECT_DIR} and no container labelled io.cartie.platform.stack=nosuch${id}`);
        });
    });
});
