import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { DockerDaemon } from "../../lib/docker/daemon";

/** Pulumi's wire form of a secret: what the engine (and a policy pack) receives for a secret value. */
export const SECRET_SIG_KEY = "4dabf18193072939515e22adb298388d";
export const SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270";

/** One resource as the program registered it with the engine: inputs, options and dependencies. */
export interface Registered {
    type: string;
    name: string;
    urn: string;
    parent: string;
    custom: boolean;
    protect: boolean;
    retainOnDelete: boolean;
    deleteBeforeReplace: boolean;
    /** Whether the program set deleteBeforeReplace at all (an explicit false overrides the provider's default). */
    deleteBeforeReplaceDefined: boolean;
    dependencies: string[];
    additionalSecretOutputs: string[];
    replaceOnChanges: string[];
    ignoreChanges: string[];
    /** Inputs in the engine's wire form: secrets are `{ [SECRET_SIG_KEY]: SECRET_SIG, value }`. */
    wire: Record<string, unknown>;
    /** Inputs with secrets unwrapped. */
    inputs: Record<string, unknown>;
    /** What the mock engine answered (inputs echoed plus provider-computed outputs such as an auto-name), secrets unwrapped. */
    outputs: Record<string, unknown>;
}

/** A message the program logged through `pulumi.log` (shown by `pulumi preview` and `up`), with the resource it is attached to. */
export interface ProgramLog {
    severity: "info" | "warn";
    message: string;
    resource?: pulumi.Resource;
}

export interface ProgramRun {
    resources: Registered[];
    logs: ProgramLog[];
    byType(type: string): Registered[];
    one(type: string, name?: string): Registered;
    outputs: Record<string, unknown>;
}

interface RegisterRequest {
    getType(): string;
    getName(): string;
    getParent(): string;
    getCustom(): boolean;
    getProtect(): boolean;
    getRetainondelete?(): boolean;
    getDeletebeforereplace(): boolean;
    getDeletebeforereplacedefined(): boolean;
    getDependenciesList(): string[];
    getAdditionalsecretoutputsList(): string[];
    getReplaceonchangesList(): string[];
    getIgnorechangesList(): string[];
    getObject(): { toJavaScript(): Record<string, unknown> } | undefined;
}

export function unwrapSecrets(v: unknown): unknown {
    if (Array.isArray(v)) return v.map(unwrapSecrets);
    if (v !== null && typeof v === "object") {
        const o = v as Record<string, unknown>;
        if (o[SECRET_SIG_KEY] === SECRET_SIG) return unwrapSecrets(o.value);
        return Object.fromEntries(Object.entries(o).map(([k, x]) => [k, unwrapSecrets(x)]));
    }
    return v;
}

export function isWireSecret(v: unknown): v is { value: unknown } {
    return v !== null && typeof v === "object" && (v as Record<string, unknown>)[SECRET_SIG_KEY] === SECRET_SIG;
}

/** What the mock engine answers for each resource type: inputs echoed plus the outputs the program reads. */
function mockState(type: string, name: string, inputs: Record<string, unknown>): { id: string; state: Record<string, unknown> } {
    const state: Record<string, unknown> = { ...inputs };
    switch (type) {
        case "docker:index/image:Image":
            state.repoDigest = `${String(inputs.imageName)}@sha256:${"0".repeat(64)}`;
            break;
        case "docker:index/remoteImage:RemoteImage":
            state.imageId = `sha256:${Buffer.from(String(inputs.name)).toString("hex").padEnd(64, "0").slice(0, 64)}`;
            state.repoDigest = `${String(inputs.name)}@sha256:${"1".repeat(64)}`;
            break;
        case "docker:index/container:Container":
            // Pulumi's autonaming, as the docker provider declares it (pulumi-docker provider/resources.go
            // `SetAutonaming(255, "-")`: `<logical name>-<7 random hex>`, chosen once at create). Derived
            // from the inputs here, so an unchanged container keeps its name and a replacement gets a new one.
            if (inputs.name === undefined) state.name = `${name}-${crypto.createHash("sha256").update(JSON.stringify(inputs)).digest("hex").slice(0, 7)}`;
            break;
        case "command:local:Command":
            state.stdout = name === "verification" ? JSON.stringify({ healthy: true }) : "";
            state.stderr = "";
            break;
        default:
            break;
    }
    // Ids derived from the inputs: a replaced resource gets a new id, an unchanged one the same.
    const id = `${name}-${crypto.createHash("sha256").update(JSON.stringify(inputs)).digest("hex").slice(0, 12)}`;
    return { id, state };
}

/** A throwaway project directory holding `.env.example` and a link to the sample app, so no developer `.env` leaks in. */
export function makeProjectDir(opts: { envFile?: string; copyApp?: boolean } = {}): string {
    const repo = path.resolve(__dirname, "../..");
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cartie-project-"));
    fs.copyFileSync(path.join(repo, ".env.example"), path.join(dir, ".env.example"));
    if (opts.copyApp) {
        // A private copy to edit, as a fresh checkout has it (no node_modules, no dist).
        fs.cpSync(path.join(repo, "examples"), path.join(dir, "examples"), {
            recursive: true,
            filter: (src) => !["node_modules", "dist"].includes(path.basename(src)),
        });
    } else {
        fs.symlinkSync(path.join(repo, "examples"), path.join(dir, "examples"));
    }
    if (opts.envFile !== undefined) fs.writeFileSync(path.join(dir, ".env"), opts.envFile);
    return dir;
}

/**
 * The Docker daemon the mock-runtime tests declare the program for: Debian 12's docker.io (API
 * 1.41), the oldest supported; a test of a newer daemon passes its own. Explicit, so no unit test
 * depends on the daemon of the machine it runs on.
 */
export const TEST_DAEMON: DockerDaemon = { apiVersion: "1.41", detectedBy: "the tests' fixed daemon" };

/** Valid secrets for tests: generated per process, never a literal in a snapshot. */
export const TEST_SECRETS = {
    postgresPassword: `pg-${Math.random().toString(36).slice(2)}-${Date.now()}`,
    jwtSecret: `jwt-${"k".repeat(20)}-${Math.random().toString(36).slice(2)}-${Date.now()}`,
    seedSuperadminPassword: `seed-${Math.random().toString(36).slice(2)}-${Date.now()}`,
};

export function validStackConfig(overrides: Record<string, string | undefined> = {}): Record<string, string> {
    const base: Record<string, string | undefined> = {
        "cartie:seedSuperadminEmail": "admin@cartie.test",
        "cartie:postgresPassword": TEST_SECRETS.postgresPassword,
        "cartie:jwtSecret": TEST_SECRETS.jwtSecret,
        "cartie:seedSuperadminPassword": TEST_SECRETS.seedSuperadminPassword,
        ...overrides,
    };
    return Object.fromEntries(Object.entries(base).filter((e): e is [string, string] => e[1] !== undefined));
}

export const SECRET_CONFIG_KEYS = ["cartie:postgresPassword", "cartie:jwtSecret", "cartie:jwtSecretPrevious", "cartie:seedSuperadminPassword"];

/** The program threw; `registered` says how many resources reached the engine before it did. */
export class ProgramError extends Error {
    constructor(readonly cause: Error, readonly registered: number) {
        super(cause.message);
        this.name = "ProgramError";
    }
}

/** Waits until no registration is in flight for a few turns of the event loop. */
async function settle(pending: () => number): Promise<void> {
    for (let quiet = 0; quiet < 5; ) {
        await new Promise((r) => setTimeout(r, 5));
        quiet = pending() === 0 ? quiet + 1 : 0;
    }
}

/**
 * Evaluates a program under Pulumi's mock runtime and returns every resource registration with
 * its options, exactly as the engine (and `pulumi preview`) would receive them.
 */
export async function runProgram(
    program: () => Record<string, unknown>,
    opts: { config?: Record<string, string>; secretKeys?: string[]; preview?: boolean; stack?: string } = {},
): Promise<ProgramRun> {
    const captured: Registered[] = [];
    const answered = new Map<string, Record<string, unknown>>();
    await pulumi.runtime.setMocks(
        {
            newResource: (args) => {
                const answer = mockState(args.type, args.name, args.inputs as Record<string, unknown>);
                answered.set(`${args.type}::${args.name}`, answer.state);
                return answer;
            },
            call: () => ({}),
        },
        "cartie-platform",
        opts.stack ?? "dev",
        opts.preview ?? false,
    );
    pulumi.runtime.setAllConfig(opts.config ?? validStackConfig(), opts.secretKeys ?? SECRET_CONFIG_KEYS);

    const monitor = pulumi.runtime.getMonitor() as unknown as {
        registerResource(req: RegisterRequest, cb: (err: unknown, res: { getUrn(): string } | undefined) => void): Promise<void>;
    };
    const original = monitor.registerResource.bind(monitor);
    let pending = 0;
    monitor.registerResource = (req, cb) => {
        pending++;
        return original(req, (err, res) => {
            pending--;
            if (!err && res) {
                const wire = req.getObject()?.toJavaScript() ?? {};
                captured.push({
                    type: req.getType(),
                    name: req.getName(),
                    urn: res.getUrn(),
                    parent: req.getParent(),
                    custom: req.getCustom(),
                    protect: req.getProtect(),
                    retainOnDelete: req.getRetainondelete?.() ?? false,
                    deleteBeforeReplace: req.getDeletebeforereplace(),
                    deleteBeforeReplaceDefined: req.getDeletebeforereplacedefined(),
                    dependencies: req.getDependenciesList(),
                    additionalSecretOutputs: req.getAdditionalsecretoutputsList(),
                    replaceOnChanges: req.getReplaceonchangesList(),
                    ignoreChanges: req.getIgnorechangesList(),
                    wire,
                    inputs: unwrapSecrets(wire) as Record<string, unknown>,
                    outputs: unwrapSecrets(answered.get(`${req.getType()}::${req.getName()}`) ?? {}) as Record<string, unknown>,
                });
            }
            cb(err, res);
        });
    };

    // Under mocks there is no engine to send these to (the SDK would print them): tests read them instead.
    const logs: ProgramLog[] = [];
    const logApi = pulumi.log as unknown as Record<ProgramLog["severity"], (message: string, resource?: pulumi.Resource) => Promise<void>>;
    const sdkLog = { info: logApi.info, warn: logApi.warn };
    for (const severity of ["info", "warn"] as const) {
        logApi[severity] = (message, resource) => {
            logs.push({ severity, message, resource });
            return Promise.resolve();
        };
    }
    const outputs: Record<string, unknown> = {};
    try {
        let exported: Record<string, unknown>;
        try {
            exported = program();
        } catch (err) {
            await settle(() => pending);
            throw new ProgramError(err as Error, captured.length);
        }
        for (const [k, v] of Object.entries(exported)) {
            outputs[k] = pulumi.Output.isInstance(v) ? await new Promise((resolve) => v.apply(resolve)) : v;
        }
        await settle(() => pending);
    } finally {
        Object.assign(logApi, sdkLog);
    }
    const resources = [...captured];
    return {
        resources,
        logs,
        outputs,
        byType: (type) => resources.filter((r) => r.type === type),
        one: (type, name) => {
            const found = resources.filter((r) => r.type === type && (name === undefined || r.name === name));
            if (found.length !== 1) throw new Error(`expected one ${type}${name ? ` named ${name}` : ""}, found ${found.length}`);
            return found[0];
        },
    };
}

const resourceKey = (r: Registered): string => `${r.type}::${r.name}`;
const shortName = (urn: string): string => urn.split("::").pop() ?? urn;

type Wire = Record<string, unknown>;
const isWireObject = (v: unknown): v is Wire => typeof v === "object" && v !== null && !Array.isArray(v);

/**
 * The inputs the engine diffs for a resource that already exists: for each `ignoreChanges` path the
 * old value stands in for the new one ("the old value is used in place of the new one", the
 * ignoreChanges resource option in Pulumi's docs). Paths are a property or a property's map key
 * (`environment.KEY`), looked up through a secret's wrapper, which is all this program uses.
 */
function diffedWire(previous: Registered | undefined, next: Registered): Wire {
    if (!previous || next.ignoreChanges.length === 0) return next.wire;
    const wire = structuredClone(next.wire);
    const unwrap = (v: unknown): Wire | undefined => (isWireObject(v) ? (isWireSecret(v) && isWireObject(v.value) ? v.value : v) : undefined);
    for (const p of next.ignoreChanges) {
        const [top, key, ...rest] = p.split(".");
        if (rest.length > 0) throw new Error(`ignoreChanges path ${p}: deeper than this stand-in follows`);
        if (key === undefined) {
            wire[top] = previous.wire[top];
            continue;
        }
        const target = unwrap(wire[top]);
        const old = unwrap(previous.wire[top]);
        if (target && old) target[key] = old[key];
    }
    return wire;
}

/** Names of the resources whose registered inputs differ between two runs (added or removed count too): what preview would show. */
export function changed(a: ProgramRun, b: ProgramRun): string[] {
    const previous = new Map(a.resources.map((r) => [resourceKey(r), r]));
    const before = new Map(a.resources.map((r) => [resourceKey(r), JSON.stringify(r.wire)]));
    const after = new Map(b.resources.map((r) => [resourceKey(r), JSON.stringify(diffedWire(previous.get(resourceKey(r)), r))]));
    return [...new Set([...before.keys(), ...after.keys()])]
        .filter((k) => before.get(k) !== after.get(k))
        .map((k) => k.split("::")[1])
        .sort();
}

/** Names of every resource `r` waits for, following dependencies transitively. */
export function upstream(run: ProgramRun, r: Registered): Set<string> {
    const byUrn = new Map(run.resources.map((x) => [x.urn, x]));
    const seen = new Set<string>();
    const stack = [...r.dependencies];
    while (stack.length > 0) {
        const urn = stack.pop() as string;
        if (seen.has(urn)) continue;
        seen.add(urn);
        stack.push(...(byUrn.get(urn)?.dependencies ?? []));
    }
    return new Set([...seen].map(shortName));
}
