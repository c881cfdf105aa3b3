/**
 * What the host should run, read from this checkout without Pulumi's CLI: the stack file, `.env`,
 * the environment, the app source. Read-only; secrets are kept only to mask them in output.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { ConfigError, ConfigKey, ConfigProblem, ENV_NAMES, FIELDS, PlatformConfig, RawConfig, mergeSources, validateConfig } from "../config";
import { contentTag, contextDigest } from "../context";
import { apiEnvironment } from "../env";
import { imageBuildArgs } from "../../components/platform";
import { Expected } from "./types";
import { DoctorInputError } from "./errors";

type StackValues = Partial<Record<ConfigKey, { value: string; encrypted: boolean }>>;

/** `name:` of Pulumi.yaml, or `cartie-platform`. */
export function readProjectName(projectDir: string): string {
    const file = path.join(projectDir, "Pulumi.yaml");
    if (!fs.existsSync(file)) return "cartie-platform";
    const m = /^name:\s*["']?([^"'\s#]+)/m.exec(fs.readFileSync(file, "utf8"));
    return m?.[1] ?? "cartie-platform";
}

function unquote(v: string): string {
    const t = v.trim();
    if ((t.startsWith('"') && t.endsWith('"')) || (t.startsWith("'") && t.endsWith("'"))) return t.slice(1, -1);
    return t.replace(/\s+#.*$/, "");
}

/**
 * The `cartie:` keys of a stack file (`config:` block, flat keys). A `secure:` value counts as
 * set and encrypted; its ciphertext is not a usable value here, so it stays out of the result's values.
 */
export function parseStackFile(text: string): { values: StackValues; encryptedKeys: ConfigKey[] } {
    const values: StackValues = {};
    const encryptedKeys: ConfigKey[] = [];
    const lines = text.split(/\r?\n/);
    let inConfig = false;
    for (let i = 0; i < lines.length; i++) {
        const line = lines[i];
        if (/^config:\s*$/.test(line)) {
            inConfig = true;
            continue;
        }
        if (/^\S/.test(line)) inConfig = false;
        if (!inConfig) continue;
        const m = /^\s+cartie:([A-Za-z]+):\s*(.*)$/.exec(line);
        if (!m || !(m[1] in FIELDS)) continue;
        const key = m[1] as ConfigKey;
        const rest = m[2].trim();
        if (rest === "" && /^\s+secure:/.test(lines[i + 1] ?? "")) encryptedKeys.push(key);
        else if (rest.startsWith("secure:") || rest.startsWith("{")) encryptedKeys.push(key);
        else values[key] = { value: unquote(rest), encrypted: false };
    }
    return { values, encryptedKeys };
}

/** `KEY=value` lines of a `.env` file (no expansion), without touching process.env. */
export function parseDotEnv(text: string): Record<string, string> {
    const out: Record<string, string> = {};
    for (const line of text.split(/\r?\n/)) {
        const m = /^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$/.exec(line);
        if (m) out[m[1]] = unquote(m[2]);
    }
    return out;
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
    const parsed = stackFileExists ? parseStackFile(fs.readFileSync(stackFile, "utf8")) : { values: {}, encryptedKeys: [] };
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
