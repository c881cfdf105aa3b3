import { ResourceValidationPolicy } from "@pulumi/policy";
import { ConfigKey, FIELDS, imageRefProblem } from "../lib/config";
import { Finding, Props, TYPES, asString, envMapEntries, isRecord, known, looksSecretValue, looksSecretVariable, rule } from "./util";

function buildArgs(props: Props): ReturnType<typeof envMapEntries> {
    const build = known(() => props.build);
    return envMapEntries(isRecord(build) ? known(() => build.args) : undefined);
}

export const noSecretsInImages: ResourceValidationPolicy = rule<{ publicPrefix: string }>({
    name: "no-secrets-in-images",
    description:
        "No build arg carries a secret (build args are kept in the image history), and VITE_* build args never hold secret-looking values (they end up in public JavaScript).",
    config: {
        publicPrefix: { schema: { type: "string", description: "Prefix of build args compiled into the public bundle" }, default: "VITE_" },
    },
    types: [TYPES.image],
    check(props: Props, _args, config): Finding[] {
        const findings: Finding[] = [];
        for (const e of buildArgs(props)) {
            if (e.value === "") continue;
            const isPublic = e.name.startsWith(config.publicPrefix);
            if (isPublic && (looksSecretVariable(e) || looksSecretValue(e.value))) {
                findings.push({
                    problem: `build arg ${e.name} holds a secret-looking value, and ${config.publicPrefix}* values are compiled into the JavaScript every visitor downloads`,
                    fix: `give ${e.name} only public values (a URL without credentials, a feature flag); keep the secret on the api side`,
                });
            } else if (!isPublic && looksSecretVariable(e)) {
                findings.push({
                    problem: `build arg ${e.name} carries a secret, and build args are stored in the image history for anyone who can pull the image`,
                    fix: `remove ${e.name} from build.args and give the container the value at runtime (an environment variable from a Pulumi secret)`,
                });
            }
        }
        return findings;
    },
});

/** Every image reference a resource names, with where it came from. */
function imageRefs(type: string, props: Props): { where: string; ref: string }[] {
    const refs: { where: string; ref: string }[] = [];
    const add = (where: string, v: unknown): void => {
        const ref = asString(v);
        if (ref !== undefined && ref !== "") refs.push({ where, ref });
    };
    if (type === TYPES.remoteImage) add("name", known(() => props.name));
    if (type === TYPES.image) {
        add("imageName", known(() => props.imageName));
        // Base images handed to the Dockerfile (NODE_IMAGE, RUNTIME_IMAGE, …).
        for (const e of buildArgs(props)) if (/_IMAGE$/.test(e.name)) add(`build arg ${e.name}`, e.value);
    }
    if (type === TYPES.tag) {
        add("sourceImage", known(() => props.sourceImage));
        add("targetImage", known(() => props.targetImage));
    }
    if (type === TYPES.container) {
        const image = known(() => props.image);
        // A `sha256:` id is the digest of a pulled image: pinned by construction.
        if (!(typeof image === "string" && /^sha256:[a-f0-9]{64}$/.test(image))) add("image", image);
    }
    return refs;
}

/** Where the program takes each reference from, for the fix line. */
const CONFIG_FOR: Record<string, ConfigKey> = {
    "db-image": "postgresImage",
    "proxy-image": "caddyImage",
    "build arg NODE_IMAGE": "nodeImage",
    "build arg RUNTIME_IMAGE": "webRuntimeImage",
};

export const pinnedImages: ResourceValidationPolicy = rule<Record<string, never>>({
    name: "pinned-images",
    description: "Every image reference has a tag or digest, and never the moving tag `latest`.",
    config: {},
    types: [TYPES.remoteImage, TYPES.image, TYPES.tag, TYPES.container],
    check(props: Props, args): Finding[] {
        const findings: Finding[] = [];
        for (const { where, ref } of imageRefs(args.type, props)) {
            const why = imageRefProblem(ref);
            if (why) {
                const key = CONFIG_FOR[where === "name" ? args.name : where];
                findings.push({
                    problem: `${where}: ${why}`,
                    fix: key
                        ? `pin it in stack config, e.g. \`pulumi config set cartie:${key} ${FIELDS[key].example}\` (a versioned tag or an @sha256 digest)`
                        : "use a versioned tag (e.g. postgres:15.10-bookworm) or an @sha256 digest",
                });
            }
        }
        return findings;
    },
});
