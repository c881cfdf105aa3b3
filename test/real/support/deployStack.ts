/**
 * One platform stack on the real Docker host, deployed release by release through the engine
 * stand-in from the program's registered inputs: shared by the deploy tests and the switch
 * benchmark (bench/switch.ts). A release is made as a person makes one: a change in the api's
 * folder (`release.txt`, which Docker sends but the Dockerfile does not copy, so the build is a
 * cache hit), or a config change.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { LABELS } from "../../../lib/labels";
import { ProgramRun, Registered, makeProjectDir } from "../../support/mockRuntime";
import { EngineStandIn, UpResult } from "./engine";
import { ImageInputs, T, awkwardPassword, evaluateRealStack } from "./program";
import { Cleanup, REPO, docker, dockerOk, freePort, runId } from "./run";
import { CACHE_REPO, buildImage, requireBaseImages } from "./sample";

/** What the Release step prints as its last line. */
export interface ReleaseSummary {
    switched: string[];
    live: { api: string; web: string };
    retired: string[];
    healthyAt?: number;
    switchedAt?: number;
}

export function releaseSummaryOf(up: UpResult): ReleaseSummary {
    const out = up.outputs.release?.stdout.trim().split("\n").pop();
    if (!out) throw new Error(`the release printed no summary; steps: ${up.steps.join(", ")}`);
    return JSON.parse(out) as ReleaseSummary;
}

export class DeployStack {
    readonly id = runId();
    readonly stack = `real-${this.id}`;
    readonly prefix = `cartie-${this.stack}`;
    readonly postgresPassword = awkwardPassword();
    readonly projectDir = makeProjectDir({ copyApp: true });
    /** One backup folder for every release of this stack: a new folder would be a change of the migration's inputs. */
    readonly backupDir = fs.mkdtempSync(path.join(os.tmpdir(), `cartie-real-backups-${this.id}-`));
    /** The api's content tag (its CARTIE_RELEASE) per release label. */
    readonly tags: Record<string, string> = {};
    /** Dockerfiles a release's api image is built from instead of its source (bad releases). */
    readonly derived = new Map<string, string>();
    readonly engine = new EngineStandIn({ buildImage: (reg) => this.build(reg), cwd: REPO });
    port = 0;

    static async create(cleanup: Cleanup): Promise<DeployStack> {
        await requireBaseImages();
        const s = new DeployStack();
        s.port = await freePort();
        cleanup.dir(s.projectDir);
        cleanup.dir(s.backupDir);
        cleanup.add(`stack ${s.stack}`, () => s.remove());
        return s;
    }

    get baseUrl(): string {
        return `http://127.0.0.1:${this.port}`;
    }

    /** The program's registrations for a release: `label` goes into the api's folder, `config` into stack config. */
    async evaluate(label: string, config: Record<string, string> = {}): Promise<ProgramRun> {
        fs.writeFileSync(path.join(this.projectDir, "examples/cartie/apps/api/release.txt"), `${label}\n`);
        const s = await evaluateRealStack(this.id, this.port, { projectDir: this.projectDir, postgresPassword: this.postgresPassword, config: { "cartie:releaseHealthTimeout": "120", "cartie:backupDir": this.backupDir, ...config } });
        this.tags[label] = String(s.run.one(T.image, "api-image").inputs.imageName).split(":")[1];
        return s.run;
    }

    /** The container the engine created for a role (`api`, `web`) or a fixed one (`db`, `proxy`). */
    container(role: string): string {
        const name = this.engine.dockerName(role === "api" || role === "web" ? `${this.prefix}-${role}` : role);
        if (!name) throw new Error(`no ${role} container in state`);
        return name;
    }

    /** This stack's api and web containers on the host, by label, sorted. */
    async appContainers(): Promise<string[]> {
        const names: string[] = [];
        for (const role of ["api", "web"]) {
            const out = await dockerOk(["ps", "-a", "--filter", `label=${LABELS.stack}=${this.stack}`, "--filter", `label=${LABELS.component}=${role}`, "--format", "{{.Names}}"]);
            names.push(...out.split("\n").filter(Boolean));
        }
        return names.sort();
    }

    private async build(reg: Registered): Promise<void> {
        const inputs = reg.inputs as unknown as ImageInputs;
        const dockerfile = this.derived.get(inputs.imageName);
        if (dockerfile) {
            const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cartie-derived-release-"));
            try {
                fs.writeFileSync(path.join(dir, "Dockerfile"), dockerfile);
                await dockerOk(["build", "-q", "-t", inputs.imageName, dir]);
            } finally {
                fs.rmSync(dir, { recursive: true, force: true });
            }
            return;
        }
        const app = reg.name === "api-image" ? "api" : "web";
        const built = await buildImage(CACHE_REPO[app], path.resolve(this.projectDir, inputs.build.context), inputs.build.args, false);
        if (!inputs.imageName.endsWith(`:${built.tag}`)) throw new Error(`program tag ${inputs.imageName} is not the content tag ${built.tag}`);
        await dockerOk(["tag", built.ref, inputs.imageName]);
    }

    private async remove(): Promise<void> {
        const ids = (await docker(["ps", "-aq", "--filter", `label=${LABELS.stack}=${this.stack}`])).stdout.split("\n").filter(Boolean);
        const named = (await docker(["ps", "-aq", "--filter", `name=${this.prefix}-`])).stdout.split("\n").filter(Boolean);
        if (ids.length + named.length > 0) await docker(["rm", "-f", ...new Set([...ids, ...named])]);
        await docker(["network", "rm", `${this.prefix}-net`]);
        await docker(["volume", "rm", "-f", `${this.prefix}-db-data`, `${this.prefix}-db-secrets`]);
        const images = (await docker(["images", "--format", "{{.Repository}}:{{.Tag}}", "--filter", `reference=${this.prefix}-*`])).stdout.split("\n").filter(Boolean);
        if (images.length > 0) await docker(["image", "rm", "--no-prune", ...images]);
    }
}
