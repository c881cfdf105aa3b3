/**
 * `npm run restore`: bring the Cartie platform back on this Docker host with one command.
 * Defaults: local state in .pulumi/, the dev stack, the sample app in examples/cartie.
 *
 * 1. the Pulumi CLI: on PATH, in Pulumi's usual homes, or installed (lib/restore/cli.ts);
 * 2. Docker answers;
 * 3. an interrupted earlier restore is finished safely (lib/restore/): a stack lock whose process
 *    is gone on this host is cleared, its leftover processes are ended, a migration it started is
 *    waited for, resources it was creating are imported or forgotten;
 * 4. the stack is selected or created, secrets generated into .env on the very first run;
 * 5. `pulumi up --diff` (asking at a terminal), then what changed, in a few lines.
 * Everything it changes is shown by Pulumi; nothing here deletes data.
 */
import { spawn, spawnSync } from "node:child_process";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { PulumiCommand } from "@pulumi/pulumi/automation";
import { docker } from "../lib/docker/cli";
import { chooseCli, installerReachable } from "../lib/restore/cli";
import { pulumiDefaults } from "../lib/restore/defaults";
import { describeLeftover, findLeftovers, formatMarker, isOrphanedRun, OwnerAlive, RUN_LABEL, RUN_VARIABLE, RunMarker } from "../lib/restore/leftovers";
import { judgeLock, stackLocks } from "../lib/restore/lock";
import { PendingOperation, planPendingCreates } from "../lib/restore/pending";
import { hasProcfs, listProcesses, processStart, startTicks } from "../lib/restore/procfs";
import { summarizeEvents } from "../lib/restore/summary";

const say = (line: string): void => void process.stderr.write(`cartie restore: ${line}\n`);
class Stop extends Error {}
const fail = (line: string): never => {
    say(line);
    throw new Stop(line);
};

const PROJECT = "cartie-platform";
const sdkVersion = (JSON.parse(fs.readFileSync(require.resolve("@pulumi/pulumi/package.json"), "utf8")) as { version: string }).version;

async function findCli(): Promise<string> {
    const offline = chooseCli(sdkVersion, { online: false });
    if (offline.kind === "found") return offline.command;
    const choice = (await installerReachable()) ? chooseCli(sdkVersion, { online: true }) : offline;
    if (choice.kind !== "install") return fail(choice.kind === "missing" ? choice.message : "no Pulumi CLI");
    say(`no Pulumi CLI found: installing v${choice.version} (the project's @pulumi/pulumi) into ${choice.root} with Pulumi's installer`);
    // Without a version the Automation API installs the one matching the SDK, which is ours.
    return (await PulumiCommand.install({ root: choice.root })).command;
}

function run(cli: string, args: string[], env: NodeJS.ProcessEnv, cwd: string, input?: string): { code: number; stdout: string; stderr: string } {
    const r = spawnSync(cli, args, { cwd, env, input, encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
    return { code: r.status ?? 1, stdout: r.stdout ?? "", stderr: r.stderr ?? "" };
}

const ownerAlive: OwnerAlive = (m) => startTicks(m.pid) === m.startTicks;

/** SIGTERM, then SIGKILL after `graceMs`; resolves when every pid is gone. */
async function endProcesses(pids: number[], graceMs = 10_000): Promise<void> {
    const alive = (pid: number): boolean => {
        try {
            process.kill(pid, 0);
            return true;
        } catch {
            return false;
        }
    };
    for (const pid of pids) if (alive(pid)) process.kill(pid, "SIGTERM");
    const until = Date.now() + graceMs;
    while (pids.some(alive) && Date.now() < until) await new Promise((r) => setTimeout(r, 200));
    for (const pid of pids.filter(alive)) process.kill(pid, "SIGKILL");
    while (pids.some(alive)) await new Promise((r) => setTimeout(r, 100));
}

/** Step 3: what an interrupted earlier restore of this stack left, made safe before this one starts. */
async function recoverInterrupted(cli: string, backendDir: string | undefined, me: RunMarker, env: NodeJS.ProcessEnv, cwd: string): Promise<void> {
    let clearedLock = false;
    if (backendDir) {
        for (const lock of stackLocks(backendDir, PROJECT, me.stack)) {
            const v = judgeLock(lock, os.hostname(), processStart);
            if (v.kind === "held") fail(`the stack "${me.stack}" is being updated right now (lock ${v.why}): wait for that run to end, then run this again`);
            if (v.kind === "foreign") fail(`the stack "${me.stack}" is locked (${v.why}): if that run is over, clear it with \`npm run pulumi -- cancel\`, then run this again`);
        }
        const stale = stackLocks(backendDir, PROJECT, me.stack);
        if (stale.length > 0) {
            const v = judgeLock(stale[0], os.hostname(), processStart);
            const r = run(cli, ["cancel", "--yes", "--stack", me.stack], env, cwd);
            if (r.code !== 0) fail(`could not clear the stale lock (${v.why}): ${r.stderr.trim() || r.stdout.trim()}`);
            say(`cleared the stack's lock, ${v.why}: that update was interrupted; this one finishes it`);
            clearedLock = true;
        }
    }
    if (!hasProcfs()) {
        if (clearedLock) say("cannot look for processes the interrupted run left (no /proc on this system): make sure no pulumi plugin of it still runs");
    } else {
        const leftovers = findLeftovers(listProcesses(), me, ownerAlive);
        if (leftovers.length > 0) {
            say(`ending ${leftovers.length} process(es) the interrupted run left, so none races this one: ${leftovers.map(describeLeftover).join("; ")}`);
            await endProcesses(leftovers.map((p) => p.pid));
        }
    }
    // A migration the interrupted run started keeps running in its container: wait for it, never cut it short.
    for (;;) {
        const r = await docker(["ps", "--filter", `label=${RUN_LABEL}`, "--format", `{{.Names}}\t{{.Label "${RUN_LABEL}"}}`]);
        const orphans = r.stdout
            .split("\n")
            .filter(Boolean)
            .map((l) => l.split("\t"))
            .filter(([, label]) => isOrphanedRun(label, me, ownerAlive))
            .map(([name]) => name);
        if (orphans.length === 0) break;
        say(`waiting for ${orphans.join(", ")} (a migration the interrupted run started) to finish: a migration is never cut short`);
        await new Promise((res) => setTimeout(res, 5000));
    }
    if (clearedLock) await resolvePendingCreates(cli, env, cwd, me.stack);
}

/** Resources the killed update was creating: imported when they exist (a fixed name would be taken), else forgotten. */
async function resolvePendingCreates(cli: string, env: NodeJS.ProcessEnv, cwd: string, stack: string): Promise<void> {
    const exported = run(cli, ["stack", "export", "--stack", stack], env, cwd);
    if (exported.code !== 0) fail(`could not read the stack's state: ${exported.stderr.trim()}`);
    const ops = ((JSON.parse(exported.stdout) as { deployment?: { pending_operations?: PendingOperation[] } }).deployment?.pending_operations ?? []).filter((o) => o.type === "creating");
    if (ops.length === 0) return;
    const plan = await planPendingCreates(ops, async (kind, name) => {
        const r = await docker([kind === "container" ? "container" : kind, "inspect", "--format", "{{.Id}}", name]);
        return r.code === 0 ? r.stdout.trim() || name : undefined;
    });
    const args = ["refresh", "--yes", "--skip-preview", "--stack", stack, "--clear-pending-creates"];
    for (const i of plan.imports) args.push("--import-pending-creates", i.urn, i.id);
    const r = run(cli, args, env, cwd);
    if (r.code !== 0) fail(`could not settle what the interrupted update was creating: ${r.stderr.trim() || r.stdout.trim().split("\n").slice(-5).join(" ")}`);
    const what = [...plan.imports.map((i) => `${i.what} (it exists: kept)`), ...plan.cleared.map((u) => `${u.split("::").pop()} (created again)`)];
    say(`the interrupted update was creating ${what.join(", ")}`);
}

function ensureStack(cli: string, env: NodeJS.ProcessEnv, cwd: string, stack: string): void {
    if (run(cli, ["stack", "select", stack], env, cwd).code === 0) return;
    const r = run(cli, ["stack", "init", stack, "--secrets-provider", "passphrase"], env, cwd);
    if (r.code !== 0) fail(`could not create the stack "${stack}": ${r.stderr.trim()}`);
}

/** Secrets: stack config wins; otherwise .env. On a first run with neither, strong ones into .env (0600), never printed. */
function ensureSecrets(cli: string, env: NodeJS.ProcessEnv, cwd: string, stack: string): void {
    if (fs.existsSync(path.join(cwd, ".env"))) return;
    const missing = ["postgresPassword", "jwtSecret", "seedSuperadminPassword"].filter((k) => run(cli, ["config", "get", `cartie:${k}`, "--stack", stack], env, cwd).code !== 0);
    if (missing.length === 0) return;
    const adopting = ["dataVolume", "legacyComposeProject"].some((k) => run(cli, ["config", "get", `cartie:${k}`, "--stack", stack], env, cwd).code === 0);
    // Adopting an existing database: its password is already set; a generated one would lock the api out.
    if (adopting) fail(`this stack adopts an existing database, so its secrets must be the ones it already uses: set ${missing.join(" ")} with \`pulumi config set --secret cartie:<key>\` or in .env (see .env.example)`);
    const r = (n: number): string => crypto.randomBytes(n).toString("base64url");
    fs.writeFileSync(path.join(cwd, ".env"), `POSTGRES_PASSWORD=${r(24)}\nJWT_SECRET=${r(48)}\nSEED_SUPERADMIN_PASSWORD=${r(18)}\n`, { mode: 0o600 });
    say("generated secrets into .env (not printed). Keep that file: the database password in it is now the database's.");
}

async function main(): Promise<number> {
    const d = pulumiDefaults(process.env.CARTIE_PROJECT_DIR ?? process.cwd());
    const cwd = d.projectDir;
    if (d.createdPassphrase) say(`created a passphrase for the local state's secrets in ${d.createdPassphrase} (keep it; back it up with the state)`);
    const cli = await findCli();
    if ((await docker(["version", "--format", "{{.Client.Version}}"]).catch(() => ({ code: 127, stdout: "", stderr: "" }))).code === 127) fail("the Docker CLI is not installed (the migration and verification steps use it)");
    const info = await docker(["info", "--format", "{{.ServerVersion}}"]);
    if (info.code !== 0) fail(`no Docker daemon answers${d.env.DOCKER_HOST ? ` at DOCKER_HOST=${d.env.DOCKER_HOST}` : ""}: start Docker, or set DOCKER_HOST`);

    const me: RunMarker = { stack: d.stack, pid: process.pid, startTicks: startTicks(process.pid) ?? 0, projectDir: cwd };
    const env = { ...d.env, [RUN_VARIABLE]: formatMarker(me) };
    await recoverInterrupted(cli, d.backendDir, me, env, cwd);
    ensureStack(cli, env, cwd, d.stack);
    ensureSecrets(cli, env, cwd, d.stack);

    // At a terminal Pulumi shows the plan and asks before changing anything; elsewhere it proceeds.
    const passthrough = process.argv.slice(2);
    const confirm = process.stdin.isTTY && !process.env.CI ? [] : ["--yes"];
    const eventLog = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "cartie-restore-")), "events.jsonl");
    const args = ["up", "--stack", d.stack, "--diff", "--event-log", eventLog, ...confirm, ...passthrough.filter((a) => !(confirm.length > 0 && a === "--yes"))];
    const started = Date.now();
    const code = await new Promise<number>((resolve) => {
        const child = spawn(cli, args, { cwd, env, stdio: "inherit" });
        child.on("error", (err) => {
            say(`cannot run ${cli}: ${err.message}`);
            resolve(127);
        });
        child.on("close", (c) => resolve(c ?? 1));
    });
    const summary = fs.existsSync(eventLog) ? summarizeEvents(fs.readFileSync(eventLog, "utf8")) : undefined;
    fs.rmSync(path.dirname(eventLog), { recursive: true, force: true });
    if (summary) for (const line of summary.lines) say(line);
    if (code !== 0) {
        say(`pulumi up failed after ${Math.round((Date.now() - started) / 1000)} s${summary?.failed.length ? ` at ${summary.failed.join(", ")}` : ""}: the error is above. Nothing the update did not show was changed; fix the cause and run \`npm run restore\` again.`);
        return code;
    }
    say(`done in ${Math.round((Date.now() - started) / 1000)} s`);
    spawnSync(cli, ["stack", "output", "--stack", d.stack], { cwd, env, stdio: "inherit" });
    return 0;
}

main().then(
    (code) => process.exit(code),
    (err: Error) => {
        if (!(err instanceof Stop)) say(err.stack ?? err.message);
        process.exit(1);
    },
);
