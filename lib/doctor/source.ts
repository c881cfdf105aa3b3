/**
 * What the host should run, read from this checkout without Pulumi's CLI: the stack file, `.env`,
 * the environment, the app source. Read-only; secrets are kept only to mask them in output.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import * as dotenv from "dotenv";
import * as yaml from "js-yaml";
import { ConfigError, ConfigKey, ConfigProblem, ENV_NAMES, FIELDS, PlatformConfig, RawConfig, mergeSources, validateConfig } from "../config";
import { contentTag, contextDigest } from "../build/context";
import { apiEnvironment } from "../env";
import { imageBuildArgs } from "../build/buildArgs";
import { Expected } from "./types";
import { DoctorInputError } from "./errors";

type StackValues = Partial<Record<ConfigKey, { value: string; encrypted: boolean }>>;

function loadYaml(file: string): Record<string, unknown> {
    try {
        const doc = yaml.load(fs.readFileSync(file, "utf8"));
        return doc !== null && typeof doc === "object" ? (doc as Record<string, unknown>) : {};
    } catch (err) {
        throw new DoctorInputError(`${path.basename(file)} is not valid YAML: ${(err as Error).message.split("\n")[0]}`);
    }
}

/** `name:` of Pulumi.yaml, or `cartie-platform`. */
export function readProjectName(projectDir: string): string {
    const file = path.join(projectDir, "Pulumi.yaml");
    if (!fs.existsSync(file)) return "cartie-platform";
    const name = loadYaml(file).name;
    return typeof name === "string" && name !== "" ? name : "cartie-platform";
}

/**
 * The `cartie:` keys of a stack file's `config:` map. A `secure:` value counts as set and
 * encrypted; its ciphertext is not a usable value here, so it stays out of the result's values.
 */
export function parseStackFile(text: string): { values: StackValues; encryptedKeys: ConfigKey[] } {
    const doc = yaml.load(text);
    const config = doc !== null && typeof doc === "object" ? (doc as { config?: unknown }).config : undefined;
    const values: StackValues = {};
    const encryptedKeys: ConfigKey[] = [];
    if (config === null || typeof config !== "object") return { values, encryptedKeys };
    for (const [fullKey, v] of Object.entries(config as Record<string, unknown>)) {
        const m = /^cartie:([A-Za-z]+)$/.exec(fullKey);
        if (!m || !(m[1] in FIELDS)) continue;
        const key = m[1] as ConfigKey;
        if (v !== null && typeof v === "object" && "secure" in v) encryptedKeys.push(key);
        else if (typeof v === "string" || typeof v === "number" || typeof v === "boolean") values[key] = { value: String(v), encrypted: false };
    }
    return { values, encryptedKeys };
}

/** `KEY=value` lines of a `.env` file, parsed by dotenv without touching process.env. */
export function parseDotEnv(text: string): Record<string, string> {
    return dotenv.parse(text);
}

/** Tables the Prisma schema maps its models to: `@@map("users")`, else the model name. */
export function schemaTables(schema: string): string[] {
    const tables: string[] = [];
    const re = /^\s*model\s+(\w+)\s*\{([\s\S]*?)^\s*\}/gm;
    let m: RegExpExecArray | null;
    while ((m = re.exec(schema))) {
        const mapped = /@@map\(\s*"([^"]+)"\s*\)/.exec(m[2]);
        tables.push(mapped ? mapped[1] : m[1]);
    }
    return tables.sort();
}

/** A stand-in for secrets the doctor does not have: long, random-looking, not a placeholder. */
const STAND_IN = "doctor-stand-in-0f3a9c7e5b1d2468ace13579bdf02468";

export interface DoctorConfig {
    project: string;
    stackFileExists: boolean;
    /** Present when the non-secret part of the contract is valid. */
    cfg?: PlatformConfig;
    /** What `pulumi up` would refuse with (secrets missing, bad values). */
    problems: ConfigProblem[];
    /** Secret values known locally, for masking only. */
    secrets: string[];
}

/**
 * Stack file + `.env` + environment + `-c cartie:key=value` overrides, validated by the config
 * contract. Missing secrets are problems to report, not a reason to stop: they are replaced by a
 * stand-in so everything else (content tags, expected URL) can still be computed.
 */
export function loadDoctorConfig(projectDir: string, stack: string, overrides: Record<string, string>, env: NodeJS.ProcessEnv = process.env): DoctorConfig {
    const stackFile = path.join(projectDir, `Pulumi.${stack}.yaml`);
    const stackFileExists = fs.existsSync(stackFile);
    let parsed: ReturnType<typeof parseStackFile> = { values: {}, encryptedKeys: [] };
    if (stackFileExists) {
        try {
            parsed = parseStackFile(fs.readFileSync(stackFile, "utf8"));
        } catch (err) {
            throw new DoctorInputError(`Pulumi.${stack}.yaml is not valid YAML: ${(err as Error).message.split("\n")[0]}`);
        }
    }
    const stackValues: StackValues = { ...parsed.values };
    for (const [k, v] of Object.entries(overrides)) {
        const key = k.replace(/^cartie:/, "");
        if (!(key in FIELDS)) throw new DoctorInputError(`unknown config key "${k}" (known: ${Object.keys(FIELDS).map((f) => `cartie:${f}`).join(", ")})`);
        stackValues[key as ConfigKey] = { value: v, encrypted: true };
    }
    const dotEnvFile = path.join(projectDir, ".env");
    const dotEnv = fs.existsSync(dotEnvFile) ? parseDotEnv(fs.readFileSync(dotEnvFile, "utf8")) : {};
    const envValues: Record<string, string | undefined> = {};
    for (const name of ENV_NAMES) envValues[name] = env[name] ?? dotEnv[name];
    const raw: RawConfig = mergeSources(stackValues, envValues);
    const secrets = (Object.keys(FIELDS) as ConfigKey[]).filter((k) => (FIELDS[k] as { secret?: boolean }).secret).flatMap((k) => (raw[k]?.value ? [raw[k].value] : []));
    const opts = { projectDir, stack, project: readProjectName(projectDir), envFile: fs.existsSync(dotEnvFile) ? ".env" : undefined };

    let allProblems: ConfigProblem[] = [];
    try {
        validateConfig(raw, opts);
    } catch (err) {
        if (!(err instanceof ConfigError)) throw err;
        allProblems = err.problems;
    }
    // Encrypted stack secrets are set; only `pulumi` can decrypt them, so they are not a problem here.
    const problems = allProblems.filter((p) => !(parsed.encryptedKeys.includes(p.key as ConfigKey) && /missing/.test(p.problem)));
    let cfg: PlatformConfig | undefined;
    const filled: RawConfig = { ...raw };
    for (const p of allProblems) {
        const spec = FIELDS[p.key as ConfigKey] as { secret?: boolean; required?: boolean; example: string } | undefined;
        if (spec?.secret) filled[p.key as ConfigKey] = { value: STAND_IN, source: "env" };
        else if (p.key === "seedSuperadminEmail") filled.seedSuperadminEmail = { value: "doctor@example.org", source: "env" };
    }
    try {
        cfg = validateConfig(filled, opts);
    } catch (err) {
        if (!(err instanceof ConfigError)) throw err;
    }
    return { project: opts.project, stackFileExists, cfg, problems, secrets };
}

function listDirs(dir: string): string[] {
    try {
        return fs
            .readdirSync(dir, { withFileTypes: true })
            .filter((d) => d.isDirectory())
            .map((d) => d.name)
            .sort();
    } catch {
        return [];
    }
}

/** Content tags of the current source (exactly what `pulumi up` would tag), migrations, schema tables. */
export async function computeExpected(cfg: PlatformConfig | undefined, fallbackBaseline: string): Promise<{ expected: Expected; notes: string[] }> {
    const notes: string[] = [];
    const requiredFallback = ["DATABASE_URL", "JWT_SECRET", "SEED_SUPERADMIN_PASSWORD", "SEED_SUPERADMIN_EMAIL"];
    if (!cfg) {
        notes.push("source not compared: the config's appRoot/baseline is invalid (see CONFIG_INVALID)");
        return { expected: { baseline: fallbackBaseline, migrations: [], schemaTables: [], requiredApiEnv: requiredFallback }, notes };
    }
    const apiDir = path.join(cfg.appRootAbs, "apps/api");
    const webDir = path.join(cfg.appRootAbs, "apps/web");
    const args = imageBuildArgs(cfg);
    const [api, web] = await Promise.all([contextDigest(apiDir, args.api), contextDigest(webDir, args.web)]);
    const schemaFile = path.join(apiDir, "prisma/schema.prisma");
    return {
        expected: {
            apiTag: contentTag(api.digest),
            webTag: contentTag(web.digest),
            apiBaseUrl: cfg.apiBaseUrl,
            baseline: cfg.migrationBaseline,
            migrations: listDirs(path.join(apiDir, "prisma/migrations")),
            schemaTables: fs.existsSync(schemaFile) ? schemaTables(fs.readFileSync(schemaFile, "utf8")) : [],
            // "the api refuses to start without the first four" (lib/env.ts)
            requiredApiEnv: Object.keys(apiEnvironment(cfg)).slice(0, 4),
        },
        notes,
    };
}
