/**
 * One stack of the real program driven by the real Pulumi engine (the CLI on PATH, through the
 * Automation API), against the real Docker daemon: what the end-to-end tests run instead of
 * re-creating the program's resources themselves.
 *
 * Each stack gets a project directory of its own (the repository's program files linked in, the
 * sample app copied so a test can change it as a person would), a `file://` backend in a temp
 * folder, passphrase secrets, a unique stack name (so every Docker object the program names is
 * unique: `cartie-real-<id>-…`) and a free public port. The stack config points at the local base
 * images (there is no registry here). `remove()` takes down whatever the stack left on the host.
 */
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { EngineEvent, LocalWorkspace, OpType, PulumiCommand, Stack } from "@pulumi/pulumi/automation";
import { LABELS } from "../../../lib/docker/labels";
import { BASE, platformPostgresImage, requireBaseImages } from "./sample";
import { Cleanup, REPO, docker, execOk, freePort, runId } from "./run";

/** The CLI version this project is tested with: the version of the @pulumi/pulumi SDK it depends on. */
export const PULUMI_VERSION: string = (JSON.parse(fs.readFileSync(path.join(REPO, "node_modules/@pulumi/pulumi/package.json"), "utf8")) as { version: string }).version;

let command: Promise<PulumiCommand> | undefined;

/**
 * The Pulumi CLI on PATH, at the SDK's version. A real test that needs the engine fails without it
 * (it never skips): `.ci/run` puts it on PATH; elsewhere install it (https://www.pulumi.com/docs/install/).
 */
export function requireEngine(): Promise<PulumiCommand> {
    command ??= (async () => {
        const found = await PulumiCommand.get({ skipVersionCheck: true }).catch((err: Error) => {
            throw new Error(`the Pulumi CLI is not on PATH (${err.message}); the real tests drive the real engine: install Pulumi v${PULUMI_VERSION} and put it on PATH`);
        });
        const version = found.version?.toString();
        if (version !== PULUMI_VERSION) throw new Error(`the Pulumi CLI on PATH is v${version ?? "unknown"}, the project's SDK is v${PULUMI_VERSION}: put v${PULUMI_VERSION} first on PATH`);
        return found;
    })();
    return command;
}

/** The program's files a project directory links to (everything `pulumi up` and the command scripts read). */
const PROGRAM_FILES = ["index.ts", "components", "lib", "scripts", "policies", "package.json", "tsconfig.json", "node_modules"];

/**
 * A project directory that runs the repository's program: its files linked in, `Pulumi.yaml`
 * copied (the stack files are written next to it), the sample app copied without host build output.
 */
export function makeEngineProject(): string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cartie-engine-"));
    for (const f of PROGRAM_FILES) fs.symlinkSync(path.join(REPO, f), path.join(dir, f));
    fs.copyFileSync(path.join(REPO, "Pulumi.yaml"), path.join(dir, "Pulumi.yaml"));
    fs.copyFileSync(path.join(REPO, ".env.example"), path.join(dir, ".env.example"));
    fs.cpSync(path.join(REPO, "examples"), path.join(dir, "examples"), { recursive: true, filter: (src) => !["node_modules", "dist"].includes(path.basename(src)) });
    // Copied, not linked: a build context is walked from its root, and a linked root is one file to that walk.
    fs.cpSync(path.join(REPO, "images"), path.join(dir, "images"), { recursive: true, filter: (src) => path.basename(src) !== "node_modules" });
    return dir;
}

/** One step of an update as the engine reported it: the resource and what it did (`create`, `replace`, `same`, …). */
export interface Change {
    op: OpType;
    urn: string;
    type: string;
    /** The resource's logical name (the URN's last part). */
    name: string;
    /** Inputs that changed (the engine's diff keys), when it said. */
    diffs: string[];
    /** When the engine started the step and when it reported its outputs (epoch ms, as the events arrived). */
    startedAt: number;
    endedAt?: number;
}

export interface EngineRun {
    /** Every resource step, in the order the engine started them. */
    steps: Change[];
    /** Steps that changed something (not `same`, `read`, `refresh`). */
    changes: Change[];
    /** Steps that failed, with the engine's error for each. */
    failures: Array<{ name: string; type: string; message: string }>;
    /** Warnings and errors the program, the providers and the engine printed. */
    diagnostics: Array<{ severity: string; message: string; urn?: string }>;
    stdout: string;
    stderr: string;
    /** Milliseconds the command took, and when it started (epoch ms). */
    ms: number;
    startedAt: number;
}

/** `pulumi up`/`preview`/`destroy` failed: what it printed and which resources failed. */
export class EngineFailed extends Error {
    constructor(
        readonly command: string,
        readonly run: EngineRun,
        cause: string,
    ) {
        const failed = run.failures.map((f) => `${f.name}: ${f.message}`).join("\n");
        super(`pulumi ${command} failed${failed ? `:\n${failed}` : ""}\n--- stderr ---\n${run.stderr.slice(-4000)}\n--- cause ---\n${cause.slice(-2000)}`);
        this.name = "EngineFailed";
    }
    /** The failure's text: every failing resource's message and the CLI's error output. */
    get text(): string {
        return `${this.run.failures.map((f) => `${f.name}: ${f.message}`).join("\n")}\n${this.run.stderr}\n${this.run.stdout}`;
    }
}

const QUIET_OPS: ReadonlySet<string> = new Set(["same", "read", "refresh", "read-discard", "discard-replaced"]);
const nameOfUrn = (urn: string): string => urn.split("::").pop() ?? urn;

/** Collects the engine's events of one command into an EngineRun. */
class EventLog {
    readonly steps: Change[] = [];
    readonly failures: EngineRun["failures"] = [];
    readonly diagnostics: EngineRun["diagnostics"] = [];
    private readonly types = new Map<string, string>();

    onEvent = (e: EngineEvent): void => {
        const now = Date.now();
        const pre = e.resourcePreEvent?.metadata;
        if (pre) {
            this.types.set(pre.urn, pre.type);
            this.steps.push({ op: pre.op, urn: pre.urn, type: pre.type, name: nameOfUrn(pre.urn), diffs: pre.diffs ?? [], startedAt: now });
        }
        const done = e.resOutputsEvent?.metadata;
        if (done) {
            const step = [...this.steps].reverse().find((x) => x.urn === done.urn && x.op === done.op && x.endedAt === undefined);
            if (step) step.endedAt = now;
        }
        const failed = e.resOpFailedEvent?.metadata;
        if (failed) this.failures.push({ name: nameOfUrn(failed.urn), type: failed.type, message: "" });
        const diag = e.diagnosticEvent;
        if (diag && (diag.severity === "error" || diag.severity === "warning" || diag.severity === "info")) {
            this.diagnostics.push({ severity: diag.severity, message: diag.message, urn: diag.urn });
            // The engine reports a failed resource's error as an error diagnostic on its URN.
            if (diag.severity === "error" && diag.urn) {
                const f = this.failures.find((x) => x.name === nameOfUrn(diag.urn ?? "") && x.message === "");
                if (f) f.message = diag.message.trim();
                else this.failures.push({ name: nameOfUrn(diag.urn), type: this.types.get(diag.urn) ?? "", message: diag.message.trim() });
            }
        }
    };

    result(stdout: string, stderr: string, startedAt: number): EngineRun {
        const failures = this.failures.map((f) => ({ ...f, message: f.message || "(no message)" }));
        return { steps: this.steps, changes: this.steps.filter((s) => !QUIET_OPS.has(s.op)), failures, diagnostics: this.diagnostics, stdout, stderr, ms: Date.now() - startedAt, startedAt };
    }
}

export interface EngineStackOptions {
    /** Stack config on top of the defaults (plain values). */
    config?: Record<string, string>;
    /** Secret stack config on top of the generated secrets. */
    secrets?: Record<string, string>;
    /** A project directory another stack already made (an adopted host is set up there first). */
    projectDir?: string;
}

/** A long random secret for a test stack; never a literal in a test. */
export const testSecret = (bytes = 24): string => crypto.randomBytes(bytes).toString("base64url");

export interface StateResource {
    urn: string;
    type: string;
    id?: string;
    inputs?: Record<string, unknown>;
    outputs?: Record<string, unknown>;
    /** A replaced resource the engine still has to delete (a pending deletion). */
    delete?: boolean;
    protect?: boolean;
    retainOnDelete?: boolean;
}

export class EngineStack {
    readonly id = runId();
    readonly stack = `real-${this.id}`;
    /** Every Docker object the program names for this stack starts with it. */
    readonly prefix = `cartie-${this.stack}`;
    readonly stateDir = fs.mkdtempSync(path.join(os.tmpdir(), "cartie-state-"));
    readonly backupDir = fs.mkdtempSync(path.join(os.tmpdir(), "cartie-engine-backups-"));
    /** The passphrase of this stack's secrets (a test's own, in memory and in the CLI's environment only). */
    readonly passphrase = testSecret();
    readonly secrets = { postgresPassword: testSecret(), jwtSecret: testSecret(48), seedSuperadminPassword: testSecret(18) };
    port = 0;
    projectDir = "";
    private workspaceStack?: Stack;

    private constructor() {}

    /** A new stack, its config written, nothing deployed yet. `cleanup` takes it all down afterwards. */
    static async create(cleanup: Cleanup, opts: EngineStackOptions = {}): Promise<EngineStack> {
        const pulumi = await requireEngine();
        await requireBaseImages();
        const s = new EngineStack();
        s.projectDir = opts.projectDir ?? makeEngineProject();
        s.port = await freePort();
        cleanup.add(`engine stack ${s.stack}`, () => s.remove());
        const ws = await LocalWorkspace.create({ workDir: s.projectDir, pulumiCommand: pulumi, envVars: s.env() });
        s.workspaceStack = await Stack.create(s.stack, ws);
        await s.setConfig({
            "cartie:postgresImage": await platformPostgresImage(),
            "cartie:caddyImage": BASE.caddy,
            "cartie:nodeImage": BASE.node,
            "cartie:webRuntimeImage": BASE.caddy,
            "cartie:publicPort": String(s.port),
            "cartie:publicBind": "127.0.0.1",
            // Fixed, so the web image's build arg (VITE_API_BASE_URL) and its layers are the same in every stack.
            "cartie:publicUrl": "http://localhost:8082",
            "cartie:backupDir": s.backupDir,
            "cartie:seedSuperadminEmail": "admin@cartie.test",
            ...opts.config,
        });
        await s.setSecrets({
            "cartie:postgresPassword": s.secrets.postgresPassword,
            "cartie:jwtSecret": s.secrets.jwtSecret,
            "cartie:seedSuperadminPassword": s.secrets.seedSuperadminPassword,
            ...opts.secrets,
        });
        return s;
    }

    /** The environment the CLI (and so every plugin and command it starts) runs with. */
    env(): Record<string, string> {
        return {
            PULUMI_BACKEND_URL: `file://${this.stateDir}`,
            PULUMI_CONFIG_PASSPHRASE: this.passphrase,
            PULUMI_SKIP_UPDATE_CHECK: "true",
            PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
        };
    }

    get baseUrl(): string {
        return `http://127.0.0.1:${this.port}`;
    }

    private get ws(): Stack {
        if (!this.workspaceStack) throw new Error("the stack was not created");
        return this.workspaceStack;
    }

    async setConfig(values: Record<string, string>): Promise<void> {
        await this.ws.setAllConfig(Object.fromEntries(Object.entries(values).map(([k, value]) => [k, { value }])));
    }

    async setSecrets(values: Record<string, string>): Promise<void> {
        await this.ws.setAllConfig(Object.fromEntries(Object.entries(values).map(([k, value]) => [k, { value, secret: true }])));
    }

    async removeConfig(keys: string[]): Promise<void> {
        await this.ws.removeAllConfig(keys);
    }

    /** A file of the stack's copy of the sample app, changed as a person changes their code. */
    writeAppFile(relative: string, content: string): void {
        fs.writeFileSync(path.join(this.projectDir, "examples/cartie", relative), content);
    }

    readAppFile(relative: string): string {
        return fs.readFileSync(path.join(this.projectDir, "examples/cartie", relative), "utf8");
    }

    /** A new api release: a file Docker sends but the Dockerfile does not copy, so the build is a layer-cache hit. */
    bumpApi(label: string): void {
        this.writeAppFile("apps/api/release.txt", `${label}\n`);
    }

    private async command(name: string, fn: (log: EventLog, out: { stdout: string; stderr: string }) => Promise<{ stdout: string; stderr: string }>): Promise<EngineRun> {
        const log = new EventLog();
        const out = { stdout: "", stderr: "" };
        const started = Date.now();
        try {
            const r = await fn(log, out);
            return log.result(r.stdout, r.stderr, started);
        } catch (err) {
            const e = err as Error & { stdout?: string; stderr?: string };
            throw new EngineFailed(name, log.result(e.stdout ?? out.stdout, e.stderr ?? out.stderr, started), e.message);
        }
    }

    /** `pulumi up --yes` (refresh first, as Pulumi.yaml says). */
    up(opts: { replace?: string[]; policyPacks?: string[]; onOutput?: (s: string) => void } = {}): Promise<EngineRun> {
        return this.command("up", async (log, out) => {
            const r = await this.ws.up({
                onEvent: log.onEvent,
                onOutput: (s) => {
                    out.stdout += s;
                    opts.onOutput?.(s);
                },
                onError: (s) => (out.stderr += s),
                replace: opts.replace,
                policyPacks: opts.policyPacks,
                color: "never",
                suppressProgress: true,
            });
            return { stdout: r.stdout, stderr: r.stderr };
        });
    }

    /** `pulumi preview` (refresh first): what an update would change, without changing it. */
    preview(opts: { expectNoChanges?: boolean; policyPacks?: string[]; policyPackConfigs?: string[] } = {}): Promise<EngineRun> {
        return this.command("preview", async (log, out) => {
            const r = await this.ws.preview({
                onEvent: log.onEvent,
                onOutput: (s) => (out.stdout += s),
                onError: (s) => (out.stderr += s),
                expectNoChanges: opts.expectNoChanges,
                policyPacks: opts.policyPacks,
                policyPackConfigs: opts.policyPackConfigs,
                diff: true,
                color: "never",
            });
            return { stdout: r.stdout, stderr: r.stderr };
        });
    }

    /** `pulumi destroy --yes`, `--exclude-protected` when asked. */
    destroy(opts: { excludeProtected?: boolean } = {}): Promise<EngineRun> {
        return this.command("destroy", async (log, out) => {
            const r = await this.ws.destroy({ onEvent: log.onEvent, onOutput: (s) => (out.stdout += s), onError: (s) => (out.stderr += s), excludeProtected: opts.excludeProtected, color: "never" });
            return { stdout: r.stdout, stderr: r.stderr };
        });
    }

    async outputs(): Promise<Record<string, unknown>> {
        return Object.fromEntries(Object.entries(await this.ws.outputs()).map(([k, v]) => [k, v.value]));
    }

    /** The stack's state as the backend holds it (`pulumi stack export`). */
    async state(): Promise<{ resources: StateResource[]; pendingOperations: unknown[] }> {
        const d = (await this.ws.exportStack()).deployment as { resources?: StateResource[]; pending_operations?: unknown[] };
        return { resources: d.resources ?? [], pendingOperations: d.pending_operations ?? [] };
    }

    /** The URN of a resource of this stack by its logical name (the first whose name and, if given, type match). */
    async urn(name: string, type?: string): Promise<string> {
        const r = (await this.state()).resources.find((x) => nameOfUrn(x.urn) === name && !x.delete && (!type || x.type === type));
        if (!r) throw new Error(`no resource named ${name} in the state of ${this.stack}`);
        return r.urn;
    }

    /** The Docker name of the live container the state holds for a role (`api`, `web`) or a fixed one (`db`, `proxy`). */
    async containerName(role: "api" | "web" | "db" | "proxy" | "routes"): Promise<string> {
        const logical = role === "api" || role === "web" || role === "routes" ? `${this.prefix}-${role}` : role;
        const r = (await this.state()).resources.find((x) => x.type === "docker:index/container:Container" && nameOfUrn(x.urn) === logical && !x.delete);
        const name = r?.outputs?.name;
        if (typeof name !== "string") throw new Error(`no ${role} container in the state of ${this.stack}`);
        return name;
    }

    /** This stack's containers on the host by label (every release's), sorted by name. */
    async hostContainers(component?: string): Promise<string[]> {
        const filters = ["--filter", `label=${LABELS.stack}=${this.stack}`, ...(component ? ["--filter", `label=${LABELS.component}=${component}`] : [])];
        const r = await docker(["ps", "-a", ...filters, "--format", "{{.Names}}"]);
        return r.stdout.split("\n").filter(Boolean).sort();
    }

    /**
     * Sets (or, with `undefined`, removes) a variable in the environment of the CLI of this stack's
     * later commands, and so of the plugins and the commands the command provider starts: how a
     * test reaches a step's test-only hook. Returns a function that puts the previous value back.
     */
    setEngineEnv(name: string, value: string | undefined): () => void {
        const env = this.ws.workspace.envVars;
        const previous = env[name];
        const put = (v: string | undefined): void => {
            if (v === undefined) delete env[name];
            else env[name] = v;
        };
        put(value);
        return () => put(previous);
    }

    /**
     * `pulumi stack export` as a person runs it, without `--show-secrets` (which `state()` uses, as
     * the Automation API does): the text a secret must never appear in.
     */
    async exportText(): Promise<string> {
        const pulumi = await requireEngine();
        return execOk(pulumi.command, ["stack", "export", "--stack", this.stack], { cwd: this.projectDir, env: this.env() });
    }

    /** Everything this stack left on the host and on disk; the data volumes too (tests own them). */
    async remove(): Promise<void> {
        const ids = (await docker(["ps", "-aq", "--filter", `label=${LABELS.stack}=${this.stack}`])).stdout.split("\n").filter(Boolean);
        const named = (await docker(["ps", "-aq", "--filter", `name=${this.prefix}-`])).stdout.split("\n").filter(Boolean);
        if (ids.length + named.length > 0) await docker(["rm", "-f", ...new Set([...ids, ...named])]);
        await docker(["network", "rm", `${this.prefix}-net`]);
        const volumes = (await docker(["volume", "ls", "-q", "--filter", `name=${this.prefix}-`])).stdout.split("\n").filter(Boolean);
        if (volumes.length > 0) await docker(["volume", "rm", "-f", ...volumes]);
        const images = (await docker(["images", "--format", "{{.Repository}}:{{.Tag}}", "--filter", `reference=${this.prefix}-*`])).stdout.split("\n").filter(Boolean);
        if (images.length > 0) await docker(["image", "rm", "--no-prune", ...images]);
        for (const dir of [this.stateDir, this.backupDir, this.projectDir]) if (dir) fs.rmSync(dir, { recursive: true, force: true });
    }
}

/** The names of the steps that did `op` (e.g. every replaced resource). */
export const namesOf = (run: EngineRun, ...ops: OpType[]): string[] => run.changes.filter((c) => ops.includes(c.op)).map((c) => c.name).sort();

/** One line per changed resource, `op name`, for failure messages. */
export const describeChanges = (run: EngineRun): string => run.changes.map((c) => `${c.op} ${c.name}${c.diffs.length ? ` [${c.diffs.join(",")}]` : ""}`).join("\n") || "(no changes)";
