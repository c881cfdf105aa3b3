import { ResourceValidationPolicy } from "@pulumi/policy";
import { FIELDS, isPlaceholder } from "../lib/config";
import { EnvEntry, Finding, Props, TYPES, asStringArray, envListEntries, envMapEntries, isRecord, known, looksSecretVariable, rule } from "./util";

/** The stack config key that feeds a variable, for the fix line. */
function configKeyFor(variable: string): string | undefined {
    if (variable === "DATABASE_URL") return "cartie:postgresPassword";
    const key = (Object.keys(FIELDS) as (keyof typeof FIELDS)[]).find((k) => (FIELDS[k] as { env?: string }).env === variable);
    return key ? `cartie:${key}` : undefined;
}

function setSecretFix(variable: string): string {
    const key = configKeyFor(variable);
    return key
        ? `run \`pulumi config set --secret ${key} '<a long random value>'\` (or set ${key === "cartie:postgresPassword" ? "POSTGRES_PASSWORD" : variable} in .env) and preview again`
        : `give ${variable} a real value from a Pulumi secret and preview again`;
}

/** Why a required value is unusable, or undefined when it is fine. Never echoes the value. */
function valueProblem(e: EnvEntry): string | undefined {
    if (e.value.trim() === "") return `sets ${e.name} to an empty value`;
    // A connection URL: the password inside it must be real too.
    const url = /^[a-z][a-z0-9+.-]*:\/\/([^:/?#@\s]+)(?::([^@/\s]*))?@/i.exec(e.value);
    if (url) {
        let password = url[2] ?? "";
        try {
            password = decodeURIComponent(password);
        } catch {
            // keep it as written
        }
        if (password.trim() === "") return `sets ${e.name} to a URL without a password`;
        if (isPlaceholder(password)) return `sets ${e.name} to a URL whose password is a placeholder`;
    }
    if (isPlaceholder(e.value)) return `sets ${e.name} to a placeholder value`;
    return undefined;
}

/** Secrets the api may go without (JWT_SECRET_PREVIOUS only during a rotation), held to the same standard once set. */
const OPTIONAL_API_SECRETS = ["JWT_SECRET_PREVIOUS"];

interface RequiredSecretsConfig {
    apiContainer: string;
    apiVariables: string[];
    dbContainer: string;
    dbVariables: string[];
    dbPasswordStep: string;
    dbPasswordStepVariables: string[];
}

export const requiredSecrets: ResourceValidationPolicy = rule<RequiredSecretsConfig>({
    name: "required-secrets",
    description:
        "The api container carries DATABASE_URL, JWT_SECRET and SEED_SUPERADMIN_PASSWORD (and JWT_SECRET_PREVIOUS when set), the db container POSTGRES_PASSWORD (or POSTGRES_PASSWORD_FILE) and the db-password step POSTGRES_PASSWORD, each non-empty and not a placeholder.",
    config: {
        apiContainer: { schema: { type: "string", description: "Resource name of the api container (or the suffix after `<prefix>-`, as in `cartie-dev-api`)" }, default: "api" },
        apiVariables: {
            schema: { type: "array", items: { type: "string" }, description: "Variables the api container must carry" },
            default: ["DATABASE_URL", "JWT_SECRET", "SEED_SUPERADMIN_PASSWORD"],
        },
        dbContainer: { schema: { type: "string", description: "Resource name of the database container" }, default: "db" },
        dbVariables: {
            schema: { type: "array", items: { type: "string" }, description: "Variables the database container must carry" },
            default: ["POSTGRES_PASSWORD"],
        },
        dbPasswordStep: { schema: { type: "string", description: "Resource name of the command that sets the database role's password" }, default: "db-password" },
        dbPasswordStepVariables: {
            schema: { type: "array", items: { type: "string" }, description: "Variables the db-password step must carry" },
            default: ["POSTGRES_PASSWORD"],
        },
    },
    types: [TYPES.container, TYPES.localCommand],
    check(props: Props, args, config): Finding[] {
        // The program names app containers `<prefix>-<role>` (Pulumi auto-names each release from that).
        const is = (wanted: string): boolean => args.name === wanted || args.name.endsWith(`-${wanted}`);
        const isCommand = args.type === TYPES.localCommand;
        const required = isCommand
            ? args.name === config.dbPasswordStep
                ? asStringArray(config.dbPasswordStepVariables, [])
                : []
            : is(config.apiContainer)
              ? asStringArray(config.apiVariables, [])
              : is(config.dbContainer)
                ? asStringArray(config.dbVariables, [])
                : [];
        if (required.length === 0) return [];
        const property = isCommand ? "environment" : "envs";
        const envs = known(() => props[property]);
        if (envs === undefined && property in props) return []; // present but unknown during preview: checked on update
        const entries = isCommand ? envMapEntries(envs) : envListEntries(envs);
        const findings: Finding[] = [];
        for (const variable of required) {
            const e = entries.find((x) => x.name === variable);
            // The Postgres image's convention: NAME_FILE names a file holding the value (the db-password step writes it).
            if (!e && !isCommand && entries.some((x) => x.name === `${variable}_FILE` && x.value.trim() !== "")) continue;
            if (!e) {
                findings.push({ problem: `does not set ${variable} in its environment (${property})`, fix: setSecretFix(variable) });
                continue;
            }
            const why = valueProblem(e);
            if (why) findings.push({ problem: why, fix: setSecretFix(variable) });
        }
        if (is(config.apiContainer)) {
            for (const e of entries.filter((x) => OPTIONAL_API_SECRETS.includes(x.name))) {
                const why = valueProblem(e);
                if (why) findings.push({ problem: why, fix: `${setSecretFix(e.name)}, or remove ${configKeyFor(e.name) ?? e.name} if no rotation is in progress` });
            }
        }
        return findings;
    },
});

/** A secret-looking variable per property that must be listed in `additionalSecretOutputs`. */
function secretCarriers(type: string, props: Props): { property: string; what: string; names: string[] }[] {
    const out: { property: string; what: string; names: string[] }[] = [];
    const names = (entries: EnvEntry[]): string[] => entries.filter((e) => e.value !== "" && looksSecretVariable(e)).map((e) => e.name);
    if (type === TYPES.container) {
        out.push({ property: "envs", what: "environment", names: names(envListEntries(known(() => props.envs))) });
    } else if (type === TYPES.localCommand || type === TYPES.remoteCommand) {
        out.push({ property: "environment", what: "environment", names: names(envMapEntries(known(() => props.environment))) });
    } else if (type === TYPES.image) {
        const build = known(() => props.build);
        out.push({ property: "build", what: "build args", names: names(envMapEntries(isRecord(build) ? known(() => build.args) : undefined)) });
    }
    return out.filter((c) => c.names.length > 0);
}

export const secretsAreSecret: ResourceValidationPolicy = rule<Record<string, never>>({
    name: "secrets-are-secret",
    description:
        "Every environment value or build arg that looks secret (PASSWORD, SECRET, TOKEN, KEY…, a URL with a password) is a Pulumi secret, not plaintext in the state: the resource lists the property in additionalSecretOutputs.",
    config: {},
    types: [TYPES.container, TYPES.localCommand, TYPES.remoteCommand, TYPES.image],
    check(props: Props, args): Finding[] {
        // Policies receive secret inputs already unwrapped: `pulumi.secret(...)` is invisible here.
        // What the pack can see is the resource option the program sets alongside it.
        const listed = args.opts.additionalSecretOutputs ?? [];
        return secretCarriers(args.type, props)
            .filter((c) => !listed.includes(c.property))
            .map((c) => ({
                problem: `its ${c.what} (${c.property}) carries ${c.names.join(", ")} but "${c.property}" is not a secret output, so the values would be stored in plaintext in the state`,
                fix:
                    c.property === "build"
                        ? "do not pass secrets as build args at all (they are baked into the image: see no-secrets-in-images); pass them to the container at runtime"
                        : `wrap the value in pulumi.secret(...) and add additionalSecretOutputs: ["${c.property}"] to the resource options`,
            }));
    },
});
