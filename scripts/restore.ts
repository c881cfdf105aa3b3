/**
 * `npm run restore`: bring the Cartie platform back on this Docker host with one command.
 * Defaults: local state in .pulumi/, the dev stack, the sample app in examples/cartie.
 *
 * 1. the Pulumi CLI: on PATH, in Pulumi's usual homes, or installed (lib/restore/cli.ts);
 * 2. Docker answers;
 * 3. an interrupted earlier restore is finished safely (lib/restore/): a stack lock whose process
 *    is gone on this host is cleared, its leftover processes are ended, a migration it started is
 *    waited for, what it was creating is removed and created again;
 * 4. the stack is selected or created, secrets generated into .env on the very first run;
 * 5. `pulumi up --diff` through the Automation API (at a terminal the preview first, then a
 *    question), then what changed, in a few lines from the engine's own events.
 * Everything it changes is shown by Pulumi; nothing here deletes data.
 */
import { spawnSync } from "node:child_process";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as readline from "node:readline";
import { LocalWorkspace, PulumiCommand, Stack } from "@pulumi/pulumi/automation";
import { docker } from "../lib/docker/cli";
import { LABELS } from "../lib/docker/labels";
import { chooseCli, installerReachable } from "../lib/restore/cli";
import { pulumiDefaults } from "../lib/restore/defaults";
import { describeLeftover, findLeftovers, formatMarker, isOrphanedRun, OwnerAlive, RUN_LABEL, RUN_VARIABLE, RunMarker } from "../lib/restore/leftovers";
import { judgeLock, stackLocks } from "../lib/restore/lock";
import { PendingOperation, planPendingCreates } from "../lib/restore/pending";
import { hasProcfs, isRunning, listProcesses, processStart, startTicks } from "../lib/restore/procfs";
import { LoggedEvent, summarizeEvents } from "../lib/restore/summary";

const say = (line: string): void => void process.stderr.write(`cartie restore: ${line}\n`);
class Stop extends Error {}
const fail = (line: string): never => {
    say(line);
    throw new Stop(line);
};

const PROJECT = "cartie-platform";
const sdkVersion = (JSON.parse(fs.readFileSync(require.resolve("@pulumi/pulumi/package.json"), "utf8")) as { version: string }).version;

/** The CLI this restore runs, as a path (for plain commands) and as the Automation API's handle. */
interface Cli {
    path: string;
    command: PulumiCommand;
}

async function findCli(): Promise<Cli> {
    const offline = chooseCli(sdkVersion, { online: false });
    // A CLI found in one of Pulumi's homes is `<root>/bin/pulumi`; one on PATH is found there again by name.
    const handle = async (p: string, onPath: boolean): Promise<Cli> => ({ path: p, command: await PulumiCommand.get({ root: onPath ? undefined : path.dirname(path.dirname(p)), skipVersionCheck: true }) });
    if (offline.kind === "found") return handle(offline.command, offline.where === "on PATH");
    const choice = (await installerReachable()) ? chooseCli(sdkVersion, { online: true }) : offline;
    if (choice.kind !== "install") return fail(choice.kind === "missing" ? choice.message : "no Pulumi CLI");
    say(`no Pulumi CLI found: installing v${choice.version} (the project's @pulumi/pulumi) into ${choice.root} with Pulumi's installer`);
    // Without a version the Automation API installs the one matching the SDK, which is ours.
    const command = await PulumiCommand.install({ root: choice.root });
    return { path: command.command, command };
}

function run(cli: string, args: string[], env: NodeJS.ProcessEnv, cwd: string, input?: string): { code: number; stdout: string; stderr: string } {
    const r = spawnSync(cli, args, { cwd, env, input, encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
    return { code: r.status ?? 1, stdout: r.stdout ?? "", stderr: r.stderr ?? "" };
}

const ownerAlive: OwnerAlive = (m) => startTicks(m.pid) === m.startTicks;

/** SIGTERM, then SIGKILL after `graceMs`; resolves when every pid is gone. */
async function endProcesses(pids: number[], graceMs = 10_000): Promise<void> {
    const alive = isRunning;
    const signal = (pid: number, sig: NodeJS.Signals): void => {
        try {
            process.kill(pid, sig);
        } catch {
            // gone meanwhile
        }
    };
    for (const pid of pids) signal(pid, "SIGTERM");
    const until = Date.now() + graceMs;
    while (pids.some(alive) && Date.now() < until) await new Promise((r) => setTimeout(r, 200));
    for (const pid of pids.filter(alive)) signal(pid, "SIGKILL");
    // SIGKILL takes effect at once; a zombie left behind counts as gone (isRunning).
    const killed = Date.now() + 5000;
    while (pids.some(alive) && Date.now() < killed) await new Promise((r) => setTimeout(r, 100));
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

/** Resources the killed update was creating: removed when it made them (a fixed name would be taken), then created again. */
async function resolvePendingCreates(cli: string, env: NodeJS.ProcessEnv, cwd: string, stack: string): Promise<void> {
    const exported = run(cli, ["stack", "export", "--stack", stack], env, cwd);
    if (exported.code !== 0) fail(`could not read the stack's state: ${exported.stderr.trim()}`);
    const ops = ((JSON.parse(exported.stdout) as { deployment?: { pending_operations?: PendingOperation[] } }).deployment?.pending_operations ?? []).filter((o) => o.type === "creating");
    if (ops.length === 0) return;
    const plan = await planPendingCreates(ops, async (kind, name) => {
        // A container keeps its labels under Config, a network and a volume at the top.
        const labels = kind === "container" ? ".Config.Labels" : ".Labels";
        const r = await docker([kind, "inspect", "--format", `{{index ${labels} "${LABELS.stack}"}}`, name]);
        return r.code === 0 ? { ours: r.stdout.trim() === stack } : undefined;
    });
    if (plan.conflicts.length > 0) fail(`the interrupted update was creating ${plan.conflicts.map((c) => `${c.kind} ${c.name}`).join(", ")}, and something that is not this stack's has that name now: rename or remove it, then run this again`);
    for (const o of plan.remove) {
        const r = o.kind === "container" ? await docker(["rm", "-f", o.name]) : await docker(["network", "rm", o.name]);
        if (r.code !== 0) fail(`could not remove ${o.kind} ${o.name}, which the interrupted update was creating: ${r.stderr.trim()}`);
    }
    const r = run(cli, ["refresh", "--yes", "--skip-preview", "--stack", stack, "--clear-pending-creates"], env, cwd);
    if (r.code !== 0) fail(`could not clear what the interrupted update was creating: ${r.stderr.trim() || r.stdout.trim().split("\n").slice(-5).join(" ")}`);
    const names = ops.map((o) => o.resource.urn.split("::").pop()).join(", ");
    say(`the interrupted update was creating ${names}: ${plan.remove.length > 0 ? `removed what it had made of them (${plan.remove.map((o) => `${o.kind} ${o.name}`).join(", ")}); ` : ""}this update creates them again`);
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
    // The CLI first: without one nothing else is created (no state folder, no passphrase, no secrets).
    const found = await findCli();
    const cli = found.path;
    const d = pulumiDefaults(process.env.CARTIE_PROJECT_DIR ?? process.cwd());
    const cwd = d.projectDir;
    if (d.createdPassphrase) say(`created a passphrase for the local state's secrets in ${d.createdPassphrase} (keep it; back it up with the state)`);
    if ((await docker(["version", "--format", "{{.Client.Version}}"]).catch(() => ({ code: 127, stdout: "", stderr: "" }))).code === 127) fail("the Docker CLI is not installed (the migration and verification steps use it)");
    const info = await docker(["info", "--format", "{{.ServerVersion}}"]);
    if (info.code !== 0) fail(`no Docker daemon answers${d.env.DOCKER_HOST ? ` at DOCKER_HOST=${d.env.DOCKER_HOST}` : ""}: start Docker, or set DOCKER_HOST`);

    const me: RunMarker = { stack: d.stack, pid: process.pid, startTicks: startTicks(process.pid) ?? 0, projectDir: cwd };
    const env = { ...d.env, [RUN_VARIABLE]: formatMarker(me) };
    await recoverInterrupted(cli, d.backendDir, me, env, cwd);
    ensureStack(cli, env, cwd, d.stack);
    ensureSecrets(cli, env, cwd, d.stack);

    // At a terminal: the plan first, then a question; elsewhere (or with --yes) it proceeds.
    const args = process.argv.slice(2);
    const unknown = args.filter((a) => a !== "--yes");
    if (unknown.length > 0) fail(`unknown option ${unknown.join(" ")}: npm run restore takes --yes only; for anything else use \`npm run pulumi -- up …\``);
    const ask = process.stdin.isTTY && !process.env.CI && !args.includes("--yes");
    const ws = await LocalWorkspace.create({ workDir: cwd, pulumiCommand: found.command, envVars: stringEnv(env) });
    const stack = await Stack.select(d.stack, ws);
    const print = (s: string): void => void process.stdout.write(s);
    const printErr = (s: string): void => void process.stderr.write(s);
    if (ask) {
        await stack.preview({ diff: true, onOutput: print, onError: printErr, color: "auto" });
        if (!(await confirm("Apply these changes? [y/N] "))) {
            say("nothing was changed");
            return 0;
        }
    }
    const events: LoggedEvent[] = [];
    const started = Date.now();
    let failedErr: Error | undefined;
    try {
        await stack.up({ diff: true, onOutput: print, onEvent: (e) => events.push(e), color: process.stdout.isTTY ? "auto" : "never" });
    } catch (err) {
        failedErr = err as Error;
    }
    const summary = summarizeEvents(events);
    for (const line of summary.lines) say(line);
    for (const e of summary.errors) say(`${e.resource}: ${e.message}`);
    const seconds = Math.round((Date.now() - started) / 1000);
    if (failedErr) {
        say(`pulumi up failed after ${seconds} s${summary.failed.length ? ` at ${summary.failed.join(", ")}` : ""}: the error is above. Nothing the update did not show was changed; fix the cause and run \`npm run restore\` again.`);
        return 1;
    }
    say(`done in ${seconds} s`);
    spawnSync(cli, ["stack", "output", "--stack", d.stack], { cwd, env, stdio: "inherit" });
    return 0;
}

function stringEnv(env: NodeJS.ProcessEnv): Record<string, string> {
    return Object.fromEntries(Object.entries(env).filter((e): e is [string, string] => typeof e[1] === "string"));
}

function confirm(question: string): Promise<boolean> {
    const rl = readline.createInterface({ input: process.stdin, output: process.stderr });
    return new Promise((resolve) =>
        rl.question(question, (answer) => {
            rl.close();
            resolve(/^y(es)?$/i.test(answer.trim()));
        }),
    );
}

main().then(
    (code) => process.exit(code),
    (err: Error) => {
        if (!(err instanceof Stop)) say(err.stack ?? err.message);
        process.exit(1);
    },
);
