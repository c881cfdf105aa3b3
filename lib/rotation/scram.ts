/**
 * The SCRAM-SHA-256 verifier Postgres stores for a password (RFC 5802/7677, stored in the RFC 5803
 * form Postgres uses: `SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>`), computed here
 * the way `psql \password` does it, so `ALTER ROLE … PASSWORD '<verifier>'` changes a role's
 * password without the server ever receiving (or logging) the plaintext.
 */
import * as crypto from "node:crypto";
import { saslprep } from "@mongodb-js/saslprep";

/** Postgres's defaults (scram_iterations, SCRAM_DEFAULT_SALT_LEN). */
export const SCRAM_ITERATIONS = 4096;
export const SCRAM_SALT_BYTES = 16;

export interface ScramKeys {
    iterations: number;
    salt: Buffer;
    storedKey: Buffer;
    serverKey: Buffer;
}

/**
 * The password as Postgres hashes it (`pg_saslprep`): ASCII as is; otherwise SASLprep (RFC 4013),
 * and the raw string when SASLprep refuses it, as the server does.
 */
export function preparePassword(password: string): string {
    if (/^[\x00-\x7f]*$/.test(password)) return password;
    try {
        return saslprep(password);
    } catch {
        return password;
    }
}

const hmac = (key: Buffer, text: string): Buffer => crypto.createHmac("sha256", key).update(text).digest();

export function scramKeys(password: string, salt: Buffer, iterations: number = SCRAM_ITERATIONS): ScramKeys {
    const salted = crypto.pbkdf2Sync(Buffer.from(preparePassword(password), "utf8"), salt, iterations, 32, "sha256");
    const clientKey = hmac(salted, "Client Key");
    return { iterations, salt, storedKey: crypto.createHash("sha256").update(clientKey).digest(), serverKey: hmac(salted, "Server Key") };
}

export function formatVerifier(k: ScramKeys): string {
    return `SCRAM-SHA-256$${k.iterations}:${k.salt.toString("base64")}$${k.storedKey.toString("base64")}:${k.serverKey.toString("base64")}`;
}

/** A new verifier with a random salt. */
export function scramVerifier(password: string, salt: Buffer = crypto.randomBytes(SCRAM_SALT_BYTES), iterations: number = SCRAM_ITERATIONS): string {
    return formatVerifier(scramKeys(password, salt, iterations));
}

const VERIFIER = /^SCRAM-SHA-256\$(\d+):([A-Za-z0-9+/=]+)\$([A-Za-z0-9+/=]+):([A-Za-z0-9+/=]+)$/;

export function parseVerifier(text: string): ScramKeys | undefined {
    const m = VERIFIER.exec(text.trim());
    if (!m) return undefined;
    return { iterations: Number(m[1]), salt: Buffer.from(m[2], "base64"), storedKey: Buffer.from(m[3], "base64"), serverKey: Buffer.from(m[4], "base64") };
}

/** Whether a stored verifier is the one for `password` (same keys for its salt and iterations). */
export function verifierMatches(verifier: string, password: string): boolean {
    const stored = parseVerifier(verifier);
    if (!stored) return false;
    const mine = scramKeys(password, stored.salt, stored.iterations);
    return crypto.timingSafeEqual(mine.storedKey, stored.storedKey) && crypto.timingSafeEqual(mine.serverKey, stored.serverKey);
}
