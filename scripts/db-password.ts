/**
 * Run by the db-password steps (`pulumi up`). With `--file-only` (before the db container): writes
 * the password file when there is none. Without (once the db is healthy): makes the database role
 * and the db-secrets volume's password file hold the configured password (lib/rotation/dbPassword.ts
 * says how). Inputs come from the environment the resource sets; nothing printed carries the password.
 */
import { maskSecrets } from "../lib/env";
import { RotationError, TEST_KILL_AFTER_ALTER_ROLE, ensurePasswordFile, rotateDbPassword } from "../lib/rotation/dbPassword";
import { dockerRotationHost } from "../lib/rotation/dockerHost";
import { requireEnv } from "./env";

const need = (name: string): string => requireEnv(name, "cartie:platform:DbPassword");

async function main(): Promise<void> {
    const password = need("POSTGRES_PASSWORD");
    const user = need("CARTIE_DB_USER");
    const host = dockerRotationHost({
        dbContainer: need("CARTIE_DB_CONTAINER"),
        secretsVolume: need("CARTIE_DB_PWFILE_VOLUME"),
        image: need("CARTIE_DB_IMAGE"),
        user,
        database: need("CARTIE_DB_NAME"),
    });
    const onLine = (line: string): void => console.log(`db-password: ${maskSecrets(line, [password])}`);
    if (process.argv.includes("--file-only")) {
        try {
            onLine(await ensurePasswordFile(host, password));
        } catch (err) {
            console.error(maskSecrets(`db-password: ${(err as Error).message}`, [password]));
            process.exit(1);
        }
        return;
    }
    const kill = process.env[TEST_KILL_AFTER_ALTER_ROLE] === "1" ? { afterAlterRole: () => void process.kill(process.pid, "SIGKILL") } : {};
    try {
        await rotateDbPassword(host, user, password, { onLine, ...kill });
    } catch (err) {
        const fix = err instanceof RotationError ? `\nfix: ${err.fix}` : "";
        console.error(maskSecrets(`db-password: ${(err as Error).message}${fix}`, [password]));
        process.exit(1);
    }
}

void main();
