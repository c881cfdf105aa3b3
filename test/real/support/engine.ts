/**
 * Stands in for the Pulumi engine on the real Docker host, so the real tests take the platform
 * from the program's registered inputs through the steps `pulumi up` would run, in its order.
 * (The Pulumi CLI and its plugins cannot be installed here; nothing below pretends to be them:
 * each step is the Docker or shell action the provider's create/delete performs.)
 *
 * The order followed, as the engine defines it:
 * 0. refresh (`Pulumi.yaml` sets `refresh: always`): a resource gone from the host leaves the
 *    state (`pulumi refresh` drops deleted resources).
 * 1. pending deletions left by a failed update are retired before anything else
 *    (pulumi/pulumi `pkg/engine/deployment_executor.go`, `retirePendingDeletes`); a resource
 *    with `retainOnDelete` leaves the state without the provider's delete being called (Pulumi
 *    docs, "Resource option: retainOnDelete": "when deleting or replacing the resource").
 * 2. resources in registration order, a topological order of their dependencies
 *    (`pkg/resource/deploy/step_generator.go`): unchanged inputs, nothing; new, create; changed:
 *    a command updates (its `create` runs again: @pulumi/command, "If an update command isn't
 *    provided, then create will also be run when the resource's inputs are modified") unless a
 *    trigger changed, which replaces it; anything else is replaced, create-before-delete unless
 *    `deleteBeforeReplace` (then the old one is deleted first). A replacement's create marks the
 *    old resource for deletion (`pkg/resource/deploy/step.go`, CreateStep).
 * 3. the replaced resources are deleted at the end of the update, in reverse order.
 * 4. a failed step ends the update: replaced resources stay marked for deletion (pending
 *    deletions), a failed update keeps the old inputs in state, a failed create records nothing
 *    unless the provider returned an id (a partial failure: the resource is recorded).
 *
 * The docker provider's container create is followed as kreuzwerker/terraform-provider-docker
 * does it (`internal/provider/resource_docker_container_funcs.go`): create, copy uploads, start,
 * then with `wait` poll health until healthy; a container that is not running right after start
 * fails the create with its id set (`errContainerExitedImmediately`). Its delete: `docker stop`
 * with `destroyGraceSeconds` (0 when unset), then remove.
 */
import { strict as assert } from "node:assert";
import { ProgramRun, Registered } from "../../support/mockRuntime";
import { ContainerInputs, T } from "./program";
import { createFromInputs, inspect, waitHealthy } from "./containers";
import { Exec, docker, dockerOk, execLikeCommandResource, sleep } from "./run";

interface StateEntry {
    reg: Registered;
    /** The Docker name (containers, networks, volumes, tags) or undefined. */
    dockerName?: string;
}

interface Pending {
    reg: Registered;
    dockerName?: string;
}

export class UpFailed extends Error {
    constructor(
        readonly resource: string,
        readonly detail: string,
        readonly exec?: Exec,
    ) {
        super(`pulumi up failed at ${resource}: ${detail}`);
        this.name = "UpFailed";
    }
}

/** What one update did, in order: `create api`, `replace cartie-…-api`, `update release`, `delete …`. */
export interface UpResult {
    steps: string[];
    outputs: Record<string, Exec>;
}

const keyOf = (r: Registered): string => `${r.type}::${r.name}`;
const same = (a: Registered, b: Registered): boolean => JSON.stringify(a.wire) === JSON.stringify(b.wire);

export interface EngineOptions {
    /** Makes the image a `docker.Image` registration names exist locally (the build, or a cached one tagged). */
    buildImage(reg: Registered): Promise<void>;
    /** Project directory the command resources run in. */
    cwd?: string;
}

export class EngineStandIn {
    private readonly state = new Map<string, StateEntry>();
    private pending: Pending[] = [];

    constructor(private readonly opts: EngineOptions) {}

    /** The `docker.Image` create: the image a registration names, made to exist locally. */
    buildImage(reg: Registered): Promise<void> {
        return this.opts.buildImage(reg);
    }

    /** The Docker name of a resource in state (the container the engine created for `name`). */
    dockerName(name: string): string | undefined {
        return [...this.state.values()].find((e) => e.reg.name === name)?.dockerName;
    }

    pendingDeletions(): string[] {
        return this.pending.map((p) => p.dockerName ?? p.reg.name);
    }

    async up(run: ProgramRun): Promise<UpResult> {
        const result: UpResult = { steps: [], outputs: {} };
        await this.refresh(result);
        // 1. pending deletions first
        const pending = this.pending;
        this.pending = [];
        for (const p of pending) await this.delete(p, result, "retire pending deletion");

        const replaced: Pending[] = [];
        const imageIds = new Map(run.byType(T.remoteImage).map((r) => [String(r.outputs.imageId), String(r.inputs.name)]));
        try {
            for (const reg of run.resources.filter((r) => r.custom)) {
                const old = this.state.get(keyOf(reg));
                if (old && same(old.reg, reg)) continue;
                if (reg.type === T.command) {
                    const triggerChanged = old && JSON.stringify(old.reg.wire.triggers) !== JSON.stringify(reg.wire.triggers);
                    if (old && !triggerChanged) {
                        await this.runCommand(reg, result, "update");
                        this.state.set(keyOf(reg), { reg });
                        continue;
                    }
                    await this.runCommand(reg, result, old ? "replace" : "create");
                    this.state.set(keyOf(reg), { reg });
                    if (old) replaced.push({ reg: old.reg });
                    continue;
                }
                if (old && reg.deleteBeforeReplace) {
                    await this.delete({ reg: old.reg, dockerName: old.dockerName }, result, "delete before replace");
                    this.state.delete(keyOf(reg));
                }
                const createFirst = old !== undefined && !reg.deleteBeforeReplace;
                try {
                    this.state.set(keyOf(reg), await this.create(reg, result, imageIds, createFirst));
                } finally {
                    // A create that returned an id (done, or a partial failure) marks the old one for deletion.
                    if (createFirst && this.state.get(keyOf(reg))?.reg === reg) replaced.push({ reg: old.reg, dockerName: old.dockerName });
                }
            }
        } catch (err) {
            // 4. the replaced ones stay marked for deletion; the next update retires them first
            this.pending.push(...replaced);
            throw err;
        }
        // 3. deletes of replaced resources at the end, in reverse order
        for (const p of replaced.reverse()) await this.delete(p, result, "delete replaced");
        return result;
    }

    private async refresh(result: UpResult): Promise<void> {
        for (const [k, e] of this.state) {
            if (e.reg.type !== T.container || !e.dockerName) continue;
            if ((await docker(["inspect", "--type", "container", e.dockerName])).code !== 0) {
                this.state.delete(k);
                result.steps.push(`refresh: ${e.reg.name} is gone from the host`);
            }
        }
    }

    private async runCommand(reg: Registered, result: UpResult, step: string): Promise<void> {
        const inputs = reg.inputs as { create: string; environment?: Record<string, string> };
        result.steps.push(`${step} ${reg.name}`);
        const r = await execLikeCommandResource(inputs.create, inputs.environment ?? {}, this.opts.cwd);
        result.outputs[reg.name] = r;
        if (r.code !== 0) throw new UpFailed(reg.name, `exit ${r.code}\n${r.stderr.trim()}`, r);
    }

    private async create(reg: Registered, result: UpResult, imageIds: Map<string, string>, replacing: boolean): Promise<StateEntry> {
        const verb = replacing ? "replace (create first)" : "create";
        result.steps.push(`${verb} ${reg.name}`);
        const inputs = reg.inputs;
        switch (reg.type) {
            case T.network:
                await dockerOk(["network", "create", String(inputs.name)]);
                return { reg, dockerName: String(inputs.name) };
            case T.volume:
                await docker(["volume", "create", String(inputs.name)]);
                return { reg, dockerName: String(inputs.name) };
            case T.remoteImage:
                await dockerOk(["image", "inspect", String(inputs.name)]);
                return { reg };
            case T.image:
                await this.opts.buildImage(reg);
                return { reg };
            case T.tag:
                await dockerOk(["tag", String(inputs.sourceImage), String(inputs.targetImage)]);
                return { reg, dockerName: String(inputs.targetImage) };
            case T.container: {
                const spec = { ...(inputs as unknown as ContainerInputs), name: String(inputs.name ?? reg.outputs.name) };
                const image = imageIds.get(String(inputs.image)) ?? String(inputs.image);
                const createdAt = Date.now();
                await createFromInputs(spec, { image });
                const entry = { reg, dockerName: spec.name };
                await this.providerRead(reg, spec.name, createdAt);
                if (inputs.wait === true) {
                    try {
                        await waitHealthy(spec.name, Number(inputs.waitTimeout ?? 180) * 1000);
                    } catch (err) {
                        this.state.set(keyOf(reg), entry);
                        throw new UpFailed(reg.name, (err as Error).message);
                    }
                }
                return entry;
            }
            default:
                throw new Error(`the engine stand-in does not create ${reg.type} (${reg.name}); keep it unchanged in this test`);
        }
    }

    /**
     * The provider's read after create: it polls until the container runs (up to 15 s); one that
     * exited after it was created is deleted by the provider and the create fails without an id,
     * so nothing is recorded and the old container is not marked for deletion.
     */
    private async providerRead(reg: Registered, name: string, createdAt: number): Promise<void> {
        const until = Date.now() + 15_000;
        for (;;) {
            const info = await inspect(name);
            if (info.State.Running) return;
            if (Date.parse(info.State.FinishedAt) >= createdAt - 1000) {
                await docker(["rm", "-f", name]);
                throw new UpFailed(reg.name, "container exited immediately (the provider removed it; nothing recorded)");
            }
            if (Date.now() > until) throw new UpFailed(reg.name, "container failed to be in running state");
            await sleep(100);
        }
    }

    private async delete(p: Pending, result: UpResult, why: string): Promise<void> {
        const reg = p.reg;
        if (reg.retainOnDelete) {
            result.steps.push(`${why} ${reg.name}: retained (left on the host, dropped from state)`);
            return;
        }
        result.steps.push(`${why} ${reg.name}`);
        switch (reg.type) {
            case T.container: {
                const grace = Number(reg.inputs.destroyGraceSeconds ?? 0);
                await docker(["stop", "-t", String(grace), p.dockerName ?? ""]);
                await docker(["rm", "-f", p.dockerName ?? ""]);
                return;
            }
            case T.tag:
                await docker(["image", "rm", "--no-prune", p.dockerName ?? ""]);
                return;
            case T.command: {
                const inputs = reg.inputs as { delete?: string; environment?: Record<string, string> };
                if (inputs.delete) {
                    const r = await execLikeCommandResource(inputs.delete, inputs.environment ?? {}, this.opts.cwd);
                    assert.equal(r.code, 0, `${reg.name} delete: ${r.stderr}`);
                }
                return;
            }
            default:
                return;
        }
    }
}
