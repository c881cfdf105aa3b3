import * as fs from "node:fs";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import * as dotenvSafe from "dotenv-safe";
import { CONFIG_NAMESPACE, ConfigKey, ENV_NAMES, FIELDS, PlatformConfig, mergeSources, validateConfig } from "./index";

/**
 * Reads `.env` into the environment with dotenv-safe, which enforces `.env.example` as the
 * contract. A name dotenv-safe reports missing is not an error yet: stack config may supply it,
 * and `validateConfig` decides with every source merged.
 */
export function readEnvironment(projectDir: string, env: NodeJS.ProcessEnv = process.env): { values: Record<string, string | undefined>; envFile?: string } {
    const envFile = path.join(projectDir, ".env");
    const example = path.join(projectDir, ".env.example");
    if (fs.existsSync(example)) {
        try {
            dotenvSafe.config({ path: envFile, example, allowEmptyValues: true, quiet: true });
        } catch (err) {
            // dotenv-safe's typings omit the error class; its `missing` list is what we use.
            if ((err as Partial<dotenvSafe.MissingEnvVarsError>).missing === undefined) throw err;
        }
    }
    const values: Record<string, string | undefined> = {};
    for (const name of ENV_NAMES) values[name] = env[name];
    return { values, envFile: fs.existsSync(envFile) ? ".env" : undefined };
}

/** Whether Pulumi holds a config key encrypted. The SDK keeps this check internal; a mock-runtime test covers it. */
function isConfigSecret(fullKey: string): boolean {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const runtimeConfig = require("@pulumi/pulumi/runtime/config") as { isConfigSecret?: (k: string) => boolean };
    return runtimeConfig.isConfigSecret?.(fullKey) ?? true;
}

/** Stack config of the `cartie` namespace, read raw so no value is logged or wrapped yet. */
export function readStackConfig(): Partial<Record<ConfigKey, { value: string; encrypted: boolean }>> {
    const out: Partial<Record<ConfigKey, { value: string; encrypted: boolean }>> = {};
    for (const key of Object.keys(FIELDS) as ConfigKey[]) {
        const fullKey = `${CONFIG_NAMESPACE}:${key}`;
        const value = pulumi.runtime.getConfig(fullKey);
        if (value !== undefined) out[key] = { value, encrypted: isConfigSecret(fullKey) };
    }
    return out;
}

/** Loads, merges and validates the whole config contract; throws ConfigError listing every problem. */
export function loadPlatformConfig(projectDir: string = process.cwd()): PlatformConfig {
    const { values, envFile } = readEnvironment(projectDir);
    const raw = mergeSources(readStackConfig(), values);
    return validateConfig(raw, { projectDir, stack: pulumi.getStack(), project: pulumi.getProject(), envFile });
}
