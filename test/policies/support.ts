import { ReportViolation, ResourceValidationArgs, ResourceValidationPolicy, unknownCheckingProxy } from "@pulumi/policy";
import { Struct } from "google-protobuf/google/protobuf/struct_pb";
import { AnalyzeRequest, AnalyzerResourceOptions } from "@pulumi/pulumi/proto/analyzer_pb";
import { platformProgram } from "../../components/program";
import { ProgramRun, Registered, SECRET_SIG, SECRET_SIG_KEY, TEST_SECRETS, isWireSecret, makeProjectDir, runProgram, unwrapSecrets, TEST_DAEMON } from "../support/mockRuntime";

/** One resource as the engine hands it to a policy pack: inputs in wire form plus its options. */
export interface PackResource {
    type: string;
    name: string;
    urn: string;
    parent: string;
    protect: boolean;
    deleteBeforeReplace: boolean;
    additionalSecretOutputs: string[];
    /** Inputs in the engine's wire form (secrets as the signature object). */
    wire: Record<string, unknown>;
}

export function fromRegistered(r: Registered): PackResource {
    return {
        type: r.type,
        name: r.name,
        urn: r.urn,
        parent: r.parent,
        protect: r.protect,
        deleteBeforeReplace: r.deleteBeforeReplace,
        additionalSecretOutputs: [...r.additionalSecretOutputs],
        wire: structuredClone(r.wire),
    };
}

/** The platform's resources, registered by the program itself under the mock runtime with valid config. */
export async function programResources(config?: Record<string, string>): Promise<{ run: ProgramRun; resources: PackResource[] }> {
    const run = await runProgram(() => ({ ...platformProgram(makeProjectDir(), { daemon: TEST_DAEMON }) }), { config });
    return { run, resources: run.resources.map(fromRegistered) };
}

export function find(resources: PackResource[], type: string, name: string): PackResource {
    const found = resources.filter((r) => r.type === type && r.name === name);
    if (found.length !== 1) throw new Error(`expected one ${type} named ${name}, found ${found.length}`);
    return structuredClone(found[0]);
}

/** A copy of `res` changed by `change` (which edits the wire inputs and options in place). */
export function changed(res: PackResource, change: (r: PackResource) => void): PackResource {
    const copy = structuredClone(res);
    change(copy);
    return copy;
}

export { isWireSecret };

/** Edits a container's `envs` list, keeping it a secret if it was one. */
export function editEnvs(res: PackResource, edit: (list: string[]) => string[]): void {
    const current = res.wire.envs;
    const secret = isWireSecret(current);
    const list = (secret ? current.value : current) as string[];
    const next = edit([...list]);
    res.wire.envs = secret ? { [SECRET_SIG_KEY]: SECRET_SIG, value: next } : next;
}

/** Strips the secret wrapper everywhere: what a program that forgot `pulumi.secret` registers. */
export function plaintext(res: PackResource): void {
    res.wire = unwrapSecrets(res.wire) as Record<string, unknown>;
}

/** @pulumi/policy's proxy that throws on a value unknown during preview (typed here: its .d.ts omits it). */
const checkingProxy = unknownCheckingProxy as unknown as (o: unknown) => Record<string, unknown>;

/**
 * Runs one policy exactly as @pulumi/policy's analyzer calls it: inputs deserialized with secrets
 * unwrapped (its `deserializeProperties(props, false)`), behind the unknown-checking proxy, and
 * the resource options it builds from the request. Returns the violation messages.
 */
export async function validate(policy: ResourceValidationPolicy, res: PackResource, config: Record<string, unknown> = {}): Promise<string[]> {
    const messages: string[] = [];
    // What @pulumi/policy's reportViolation makes of a message: the description, then the message.
    const report: ReportViolation = (message: string) => {
        messages.push(`${policy.description}\n${message}`);
    };
    const props = checkingProxy(unwrapSecrets(res.wire));
    const args: ResourceValidationArgs = {
        type: res.type,
        name: res.name,
        urn: res.urn,
        props,
        opts: {
            protect: res.protect,
            ignoreChanges: [],
            aliases: [],
            customTimeouts: { createSeconds: 0, updateSeconds: 0, deleteSeconds: 0 },
            additionalSecretOutputs: res.additionalSecretOutputs,
            deleteBeforeReplace: res.deleteBeforeReplace,
            parent: res.parent || undefined,
        },
        stackTags: new Map<string, string>(),
        isType: () => false,
        asType: () => undefined,
        getConfig: <T extends object>() => config as T,
        notApplicable: (reason?: string): never => {
            throw new Error(`not applicable: ${reason ?? ""}`);
        },
    };
    const validations = Array.isArray(policy.validateResource) ? policy.validateResource : policy.validateResource ? [policy.validateResource] : [];
    for (const v of validations) await v(args, report);
    return messages;
}

/** The request the engine sends the analyzer for one resource. */
export function analyzeRequest(res: PackResource): AnalyzeRequest {
    const opts = new AnalyzerResourceOptions();
    opts.setProtect(res.protect);
    opts.setAdditionalsecretoutputsList(res.additionalSecretOutputs);
    opts.setDeletebeforereplace(res.deleteBeforeReplace);
    opts.setDeletebeforereplacedefined(true);
    if (res.parent) opts.setParent(res.parent);
    const req = new AnalyzeRequest();
    req.setType(res.type);
    req.setName(res.name);
    req.setUrn(res.urn);
    req.setProperties(Struct.fromJavaScript(res.wire as Parameters<typeof Struct.fromJavaScript>[0]));
    req.setOptions(opts);
    return req;
}

/** Every form in which a test secret could leak into a message. */
export function secretForms(): string[] {
    return Object.values(TEST_SECRETS).flatMap((s) => [s, encodeURIComponent(s)]);
}

export function leakedSecret(messages: string[]): string | undefined {
    return secretForms().find((s) => messages.some((m) => m.includes(s)));
}

/** Sets (or, with undefined, removes) one Docker label in a container's wire inputs. */
export function setLabel(res: PackResource, label: string, value: string | undefined): void {
    const list = (Array.isArray(res.wire.labels) ? res.wire.labels : []) as { label: string; value: string }[];
    const rest = list.filter((l) => l.label !== label);
    res.wire.labels = value === undefined ? rest : [...rest, { label, value }];
}
