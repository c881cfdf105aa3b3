/**
 * The built-in defaults `npm run restore` and `npm run pulumi` run the CLI with: state in the
 * project (`.pulumi/`, git-ignored) unless PULUMI_BACKEND_URL says otherwise, the passphrase of its
 * secrets generated once into `.pulumi/passphrase` (0600) unless one is provided, the `dev` stack.
 */
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { fileURLToPath } from "node:url";

export interface PulumiDefaults {
    projectDir: string;
    stack: string;
    /** The environment to run the CLI with (this process's plus the defaults). */
    env: NodeJS.ProcessEnv;
    /** The backend's directory when it is a `file://` one (where its locks are). */
    backendDir?: string;
    /** Set when this call created the passphrase file (say so once). */
    createdPassphrase?: string;
}

export function pulumiDefaults(projectDir: string, env: NodeJS.ProcessEnv = process.env): PulumiDefaults {
    const out: NodeJS.ProcessEnv = { ...env };
    out.PULUMI_BACKEND_URL ||= `file://${path.join(projectDir, ".pulumi")}`;
    let createdPassphrase: string | undefined;
    if (!out.PULUMI_CONFIG_PASSPHRASE && !out.PULUMI_CONFIG_PASSPHRASE_FILE) {
        const file = path.join(projectDir, ".pulumi", "passphrase");
        fs.mkdirSync(path.dirname(file), { recursive: true });
        if (!fs.existsSync(file) || fs.statSync(file).size === 0) {
            fs.writeFileSync(file, crypto.randomBytes(24).toString("base64url"), { mode: 0o600 });
            createdPassphrase = file;
        }
        out.PULUMI_CONFIG_PASSPHRASE_FILE = file;
    }
    const stack = out.CARTIE_STACK || "dev";
    out.CARTIE_STACK = stack;
    const url = out.PULUMI_BACKEND_URL;
    const backendDir = url.startsWith("file://") ? fileURLToPath(url.replace(/\?.*$/, "")) : undefined;
    return { projectDir, stack, env: out, backendDir, createdPassphrase };
}
