/**
 * The program's own resource inputs for real tests: the platform is evaluated under Pulumi's mock
 * runtime (test/support/mockRuntime.ts, as the unit suite does) with a real-test stack config,
 * and the registered inputs (images, build args, containers, Caddyfile, commands and their
 * environment) are what the real tests build, create and run. Nothing here re-implements them.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { platformProgram } from "../../../components/program";
import { CADDYFILE_PATH } from "../../../components/proxy";
import { ProgramRun, Registered, makeProjectDir, runProgram, validStackConfig, TEST_DAEMON } from "../../support/mockRuntime";
import { BASE, platformPostgresImage } from "./sample";
import { Cleanup, execLikeCommandResource, runId } from "./run";

export const T = {
    container: "docker:index/container:Container",
    image: "docker:index/image:Image",
    remoteImage: "docker:index/remoteImage:RemoteImage",
    network: "docker:index/network:Network",
    volume: "docker:index/volume:Volume",
    tag: "docker:index/tag:Tag",
    command: "command:local:Command",
} as const;

export interface ContainerInputs {
    name: string;
    image: string;
    envs?: string[];
    command?: string[];
    networksAdvanced?: Array<{ name: string; aliases?: string[] }>;
    healthcheck?: { tests: string[]; interval?: string; timeout?: string; retries?: number; startPeriod?: string };
    ports?: Array<{ internal: number; external?: number; ip?: string; protocol?: string }>;
    mounts?: Array<{ type: string; source: string; target: string; readOnly?: boolean }>;
    uploads?: Array<{ file: string; content: string }>;
    restart?: string;
    labels?: Array<{ label: string; value: string }>;
    stopTimeout?: number;
    waitTimeout?: number;
}

export interface ImageInputs {
    imageName: string;
    build: { context: string; dockerfile: string; args: Record<string, string> };
}

export interface CommandInputs {
    create: string;
    environment: Record<string, string>;
}

export interface RealStack {
    stack: string;
    /** `cartie-<stack>`: every Docker object the program names starts with it. */
    prefix: string;
    projectDir: string;
    /** `cartie:backupDir` of the stack: a folder of its own, so no real test writes into the repo's backups/. */
    backupDir: string;
    run: ProgramRun;
    publicPort: number;
    postgresPassword: string;
    /**
     * A container's registered inputs. `api` and `web` are the app containers (logical names
     * `<prefix>-api` / `<prefix>-web`); their `name` is the auto-name the engine gives them (the mock
     * runtime answers it as the provider does), so tests create exactly the container the engine would.
     */
    container(name: string): ContainerInputs;
    /** The live Caddyfile the Release step loads into the proxy for these containers. */
    releaseCaddyfile(): string;
    image(name: "api-image" | "web-image"): ImageInputs;
    command(name: "db-password" | "migration" | "verification" | "release" | "legacy-preflight" | "legacy-backup" | "legacy-takeover"): CommandInputs;
    /** The RemoteImage a container of the program pulls (its `image` input is the mocked id). */
    remoteImageName(container: "db" | "proxy"): string;
    caddyfile(): string;
}

/** A Postgres password with every character a URL treats specially, so percent-encoding is exercised. */
export function awkwardPassword(): string {
    return `Pg/${runId()}:@?#%+&=${runId()}`;
}

/**
 * Evaluates the program for a unique stack `real-<id>` with local base images and the given
 * public port (and `opts.config`, e.g. a takeover's settings). `publicUrl` stays fixed so the web image's build arg (VITE_API_BASE_URL) and its
 * content tag are the same every run and the image is cached.
 */
export async function evaluateRealStack(
    id: string,
    publicPort: number,
    opts: { projectDir?: string; config?: Record<string, string>; postgresPassword?: string } = {},
): Promise<RealStack> {
    const stack = `real-${id}`;
    const postgresPassword = opts.postgresPassword ?? opts.config?.["cartie:postgresPassword"] ?? awkwardPassword();
    // A folder of its own unless the caller names one (one stack evaluated release after release keeps its folder).
    const backupDir = opts.config?.["cartie:backupDir"] ?? fs.mkdtempSync(path.join(os.tmpdir(), `cartie-real-backups-${id}-`));
    const config = validStackConfig({
        "cartie:backupDir": backupDir,
        "cartie:postgresPassword": postgresPassword,
        "cartie:postgresImage": await platformPostgresImage(),
        "cartie:caddyImage": BASE.caddy,
        "cartie:nodeImage": BASE.node,
        "cartie:webRuntimeImage": BASE.caddy,
        "cartie:publicPort": String(publicPort),
        "cartie:publicBind": "127.0.0.1",
        "cartie:publicUrl": "http://localhost:8082",
        ...opts.config,
    });
    const projectDir = opts.projectDir ?? makeProjectDir();
    const run = await runProgram(() => ({ ...platformProgram(projectDir, { daemon: TEST_DAEMON }) }), { config, stack });
    const inputs = <X>(type: string, name: string): X => run.one(type, name).inputs as X;
    return {
        stack,
        prefix: `cartie-${stack}`,
        projectDir,
        backupDir,
        run,
        publicPort,
        postgresPassword,
        container: (name) => {
            const r = run.one(T.container, name === "api" || name === "web" ? `cartie-${stack}-${name}` : name);
            return { ...(r.inputs as unknown as ContainerInputs), name: String(r.inputs.name ?? r.outputs.name) };
        },
        image: (name) => inputs<ImageInputs>(T.image, name),
        command: (name) => inputs<CommandInputs>(T.command, name),
        releaseCaddyfile: () => inputs<CommandInputs>(T.command, "release").environment.CARTIE_CADDYFILE,
        remoteImageName: (container) => inputs<{ name: string }>(T.remoteImage, `${container}-image`).name,
        caddyfile: () => {
            const upload = inputs<ContainerInputs>(T.container, "proxy").uploads?.find((u) => u.file === CADDYFILE_PATH);
            if (!upload) throw new Error(`the proxy container uploads no ${CADDYFILE_PATH}`);
            return upload.content;
        },
    };
}

/**
 * The db-password step as the engine runs it before the db container exists: it writes the
 * password file on the db-secrets volume, which a fresh data volume's initialisation and the
 * migration read. Tests that create the db from its registered inputs run it first.
 */
export async function runDbPasswordStep(stack: RealStack, cleanup: Cleanup): Promise<void> {
    cleanup.volume((stack.run.one(T.volume, "db-secrets").inputs as { name: string }).name);
    const cmd = stack.command("db-password");
    const r = await execLikeCommandResource(cmd.create, cmd.environment);
    if (r.code !== 0) throw new Error(`the db-password step failed (exit ${r.code}):\n${r.stdout}\n${r.stderr}`);
}

export function removeProjectDir(stack: RealStack | undefined): void {
    if (!stack) return;
    fs.rmSync(stack.projectDir, { recursive: true, force: true });
    fs.rmSync(stack.backupDir, { recursive: true, force: true });
}

/** The registered resource itself, for assertions on options. */
export function registered(stack: RealStack, type: string, name: string): Registered {
    return stack.run.one(type, name);
}
