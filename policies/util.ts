import {
    PolicyConfigSchema,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    UnknownValueError,
} from "@pulumi/policy";
import { looksSecretName } from "../lib/env";

/** The resource types the pack looks at, as the engine names them. */
export const TYPES = {
    container: "docker:index/container:Container",
    volume: "docker:index/volume:Volume",
    image: "docker:index/image:Image",
    remoteImage: "docker:index/remoteImage:RemoteImage",
    tag: "docker:index/tag:Tag",
    localCommand: "command:local:Command",
    remoteCommand: "command:remote:Command",
} as const;

export type Props = Record<string, unknown>;

/** One problem: what is wrong and how to fix it. The resource is named by `report`. */
export interface Finding {
    problem: string;
    fix: string;
}

/** `docker:Container "api"`: how messages name a resource. */
export function resourceLabel(type: string, name: string): string {
    const m = /^([^:]+):[^:]*:(.+)$/.exec(type);
    return m ? `${m[1]}:${m[2]} "${name}"` : `${type} "${name}"`;
}

export function formatFinding(type: string, name: string, f: Finding): string {
    return `${resourceLabel(type, name)}: ${f.problem}. Fix: ${f.fix}.`;
}

/**
 * The sentinels of Pulumi's resource protocol for a value unknown during preview (the engine's
 * `Unknown*Value` constants, pulumi/sdk go/common/resource/plugin/rpc.go). @pulumi/policy's
 * UnknownValueError carries the one it met as `unknownTypeSentinel`.
 */
const UNKNOWN_SENTINELS: ReadonlySet<string> = new Set([
    "1c4a061d-8072-4f0a-a4cb-0ff528b18fe7", // boolean
    "3eeb2bf0-c639-47a8-9e75-3b44932eb421", // number
    "04da6b54-80e4-46f7-96ec-b56ff0331ba9", // string
    "6a19a0b0-7e62-4c92-b797-7f8e31da9cc2", // array
    "030794c1-ac77-496b-92df-f27374a8bd58", // asset
    "e48ece36-62e2-4504-bad9-02848725956a", // archive
    "dd056dcd-154b-4c76-9bd3-c8f88648b5ff", // object
]);

/**
 * Whether `e` is @pulumi/policy's UnknownValueError, from whichever copy of the package threw it.
 * `instanceof` alone fails when two copies are loaded (a `policies/node_modules` from `npm install`
 * next to the project's): the proxy of one throws, the rules hold the other's class. The error has
 * no name of its own ("Error") and no symbol; its message is prose. Its `unknownTypeSentinel` is
 * one of the protocol's constants, which no copy or version can change without breaking the engine.
 */
export function isUnknownValueError(e: unknown): boolean {
    if (e instanceof UnknownValueError) return true;
    if (e === null || typeof e !== "object") return false;
    const sentinel = (e as { unknownTypeSentinel?: unknown }).unknownTypeSentinel;
    return typeof sentinel === "string" && UNKNOWN_SENTINELS.has(sentinel);
}

/**
 * A value read from the inputs, or undefined when it cannot be known yet (during `pulumi preview`
 * an input computed from another resource is unknown, and reading it throws).
 */
export function known<T>(read: () => T): T | undefined {
    try {
        return read();
    } catch (e) {
        if (isUnknownValueError(e)) return undefined;
        throw e;
    }
}

export function isRecord(v: unknown): v is Props {
    return v !== null && typeof v === "object" && !Array.isArray(v);
}

export function asArray(v: unknown): unknown[] {
    return Array.isArray(v) ? v : [];
}

export function asString(v: unknown): string | undefined {
    return typeof v === "string" ? v : undefined;
}

export function asStringArray(v: unknown, fallback: string[]): string[] {
    return Array.isArray(v) && v.every((x) => typeof x === "string") ? v : fallback;
}

export interface EnvEntry {
    name: string;
    value: string;
}

/** Docker's `KEY=value` list (a container's `envs`) as entries; malformed items are skipped. */
export function envListEntries(list: unknown): EnvEntry[] {
    const out: EnvEntry[] = [];
    for (const item of asArray(list)) {
        if (typeof item !== "string") continue;
        const eq = item.indexOf("=");
        out.push(eq < 0 ? { name: item, value: "" } : { name: item.slice(0, eq), value: item.slice(eq + 1) });
    }
    return out;
}

/** A `{ NAME: value }` map (a command's `environment`, an image's build args) as entries. */
export function envMapEntries(map: unknown): EnvEntry[] {
    if (!isRecord(map)) return [];
    return Object.keys(map).map((name) => {
        const v = map[name];
        return { name, value: typeof v === "string" ? v : v === undefined || v === null ? "" : JSON.stringify(v) };
    });
}

/** A URL that carries a password (`postgresql://user:pass@host/db`). */
export function urlHasPassword(value: string): boolean {
    return /\b[a-z][a-z0-9+.-]*:\/\/[^:/?#\s@]+:[^@\s/]+@/i.test(value);
}

/** Whether a variable carries a secret: its name says so, or its value is a URL with a password in it. */
export function looksSecretVariable(e: EnvEntry): boolean {
    return looksSecretName(e.name) || urlHasPassword(e.value);
}

/** Values that look like credentials whatever their name: tokens, keys, JWTs, URLs with a password. */
export function looksSecretValue(value: string): boolean {
    const v = value.trim();
    if (urlHasPassword(v)) return true;
    if (/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(v)) return true;
    if (/^eyJ[\w-]+\.[\w-]+\.[\w-]*$/.test(v)) return true; // a JWT
    if (/^(sk|pk|rk)_(live|test)_\w+$|^gh[pousr]_\w{20,}$|^AKIA[0-9A-Z]{16}$|^xox[abpr]-/.test(v)) return true;
    // A long opaque token: no spaces, no URL or path shape, letters and digits mixed.
    return /^[A-Za-z0-9+/_=-]{32,}$/.test(v) && /[0-9]/.test(v) && /[A-Za-z]/.test(v) && !v.includes("/");
}

export interface RuleSpec<C extends object> {
    name: string;
    description: string;
    /** Settings of the rule (besides `enforcementLevel`), each with its default. */
    config: { [K in keyof C]: { schema: PolicyConfigSchema["properties"][string]; default: C[K] } };
    /** Types the rule looks at; any other resource is skipped. */
    types: readonly string[];
    /** Default `mandatory`; an `advisory` rule reports without stopping the deploy. */
    enforcementLevel?: "advisory" | "mandatory";
    check(props: Props, args: ResourceValidationArgs, config: C): Finding[];
}

/**
 * A resource policy (mandatory unless the spec says otherwise) whose settings come from the pack's policy config, falling back to
 * the defaults (the engine passes nothing when the user gives no `--policy-pack-config`).
 */
export function rule<C extends object>(spec: RuleSpec<C>): ResourceValidationPolicy {
    const keys = Object.keys(spec.config) as (keyof C & string)[];
    const properties: PolicyConfigSchema["properties"] = {};
    for (const k of keys) {
        const d = spec.config[k].default;
        properties[k] = d === undefined ? spec.config[k].schema : { ...spec.config[k].schema, default: d };
    }
    return {
        name: spec.name,
        description: spec.description,
        enforcementLevel: spec.enforcementLevel ?? "mandatory",
        configSchema: keys.length > 0 ? { properties } : undefined,
        validateResource: (args: ResourceValidationArgs, reportViolation: ReportViolation) => {
            if (!spec.types.includes(args.type)) return;
            const given: Props = args.getConfig<Props>();
            const config = {} as C;
            for (const k of keys) config[k] = (given[k] ?? spec.config[k].default) as C[keyof C & string];
            const props: Props = args.props;
            for (const f of spec.check(props, args, config)) reportViolation(formatFinding(args.type, args.name, f));
        },
    };
}
