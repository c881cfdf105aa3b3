/**
 * Rotating the database password: what to do, given what the host shows, and doing it through a
 * small host interface (scripts/db-password.ts gives it Docker), so every branch is unit-tested.
 *
 * The password lives in two places the program controls: the role in the running database, and
 * the file `postgres-password` on the db-secrets volume (what a fresh volume's initialisation and
 * the migration read). The step makes both hold the configured password, role first: the file is
 * written last, so a run killed half-way is finished by the next one (the role already accepts
 * the new password; only the file is written).
 */
import { ident, literal } from "../backup/restore";
import { scramVerifier } from "./scram";

/** Where the file is inside the db container (the db-secrets volume, read-only there). */
export const DB_SECRETS_DIR = "/run/cartie";
export const PASSWORD_FILE_NAME = "postgres-password";
export const PASSWORD_FILE = `${DB_SECRETS_DIR}/${PASSWORD_FILE_NAME}`;

export type DbStatus = "running" | "absent" | "not-running";
/** A login over TCP with a password: accepted, refused by Postgres (28P01), or some other failure. */
export type Login = { ok: true } | { ok: false; refused: boolean; message: string };

export interface Observed {
    db: DbStatus;
    /** The file's content, or undefined when there is no file yet. */
    file?: string;
    /** The configured password over TCP; only asked when the db runs. */
    login?: Login;
}

export type Action =
    | { kind: "nothing"; why: string }
    | { kind: "write-file"; why: string }
    | { kind: "alter-role"; why: string; checkOldRefused: boolean }
    | { kind: "fail"; why: string; fix: string };

/** The one thing to do for what was observed. */
export function planRotation(o: Observed, password: string): Action {
    const fileCurrent = o.file === password;
    if (o.db !== "running") {
        const where = o.db === "absent" ? "there is no db container yet" : "the db container is not running";
        return fileCurrent
            ? { kind: "nothing", why: `${where}; the password file already holds the configured password` }
            : { kind: "write-file", why: `${where}: a new data volume is initialised with the password in the file` };
    }
    const login = o.login;
    if (!login) return { kind: "fail", why: "the db runs but the configured password was not tried", fix: "report this as a bug of the rotation step" };
    if (login.ok) {
        return fileCurrent
            ? { kind: "nothing", why: "the database accepts the configured password and the file holds it" }
            : { kind: "write-file", why: "the database accepts the configured password; the file is brought in line" };
    }
    if (!login.refused) {
        return {
            kind: "fail",
            why: `the configured password could not be tried against the db: ${login.message}`,
            fix: "make the db container healthy (see `docker logs` of it, or `npm run doctor`), then run `pulumi up` again; nothing was changed",
        };
    }
    return {
        kind: "alter-role",
        why: "the database refuses the configured password: the role's password is changed over the db's local socket",
        checkOldRefused: o.file !== undefined && o.file !== password,
    };
}

/** `ALTER ROLE` with a SCRAM verifier, so the plaintext never reaches the server or its log. */
export function alterRoleSql(user: string, password: string, salt?: Buffer): string {
    return `ALTER ROLE ${ident(user)} PASSWORD ${literal(salt ? scramVerifier(password, salt) : scramVerifier(password))};\n`;
}

/** What the step needs from the host: the db container and the secrets volume. */
export interface RotationHost {
    dbStatus(): Promise<DbStatus>;
    readFile(): Promise<string | undefined>;
    writeFile(password: string): Promise<void>;
    /** A password login over TCP to the db's network address (not loopback, which the image trusts). */
    login(password: string): Promise<Login>;
    /** SQL as the role over the container's local socket, with no password; the SQL travels on stdin. */
    socketSql(sql: string): Promise<{ ok: true } | { ok: false; message: string }>;
}

export class RotationError extends Error {
    constructor(
        message: string,
        readonly fix: string,
    ) {
        super(message);
        this.name = "RotationError";
    }
}

/**
 * TEST ONLY: scripts/db-password.ts kills itself (SIGKILL) right after the role's password changed
 * when this variable is 1, as an interrupted `pulumi up` would leave it. Unset, nothing happens.
 */
export const TEST_KILL_AFTER_ALTER_ROLE = "CARTIE_TEST_KILL_AFTER_ALTER_ROLE";

export interface RotationHooks {
    /** Each line as it happens, so a step killed half-way has shown how far it got. */
    onLine?: (line: string) => void;
    /** Runs right after the role's password changed (tests stop the step there). */
    afterAlterRole?: () => void | Promise<void>;
}

/** Runs the step: returns what it did, line by line (nothing secret in them); throws RotationError. */
export async function rotateDbPassword(host: RotationHost, user: string, password: string, hooks: RotationHooks = {}): Promise<string[]> {
    const lines: string[] = [];
    const log = {
        push(line: string): void {
            lines.push(line);
            hooks.onLine?.(line);
        },
    };
    const db = await host.dbStatus();
    const file = await host.readFile();
    const login = db === "running" ? await host.login(password) : undefined;
    const action = planRotation({ db, file, login }, password);
    log.push(`${action.kind}: ${action.why}`);
    if (action.kind === "fail") throw new RotationError(action.why, action.fix);
    if (action.kind === "nothing") return lines;
    if (action.kind === "alter-role") {
        const r = await host.socketSql(alterRoleSql(user, password));
        if (!r.ok) {
            const noTrust = /no password supplied|password authentication failed|peer authentication failed/i.test(r.message);
            throw new RotationError(
                noTrust
                    ? `the db's local socket does not trust role "${user}" (${r.message}), so the step cannot change the password without the old one`
                    : `ALTER ROLE "${user}" over the db's local socket failed: ${r.message}`,
                noTrust
                    ? `allow local socket connections without a password in the db's pg_hba.conf (the official image's default: \`local all all trust\`), or set cartie:postgresPassword back to the role's current password; nothing was changed`
                    : "read the message, fix the database, then run `pulumi up` again; nothing was changed",
            );
        }
        log.push(`changed the password of role "${user}" (a SCRAM-SHA-256 verifier; the server never saw the password)`);
        await hooks.afterAlterRole?.();
        const after = await host.login(password);
        if (!after.ok) {
            throw new RotationError(
                `role "${user}" still refuses the configured password after ALTER ROLE: ${after.message}`,
                "check pg_hba.conf's host lines (scram-sha-256 expected) and `password_encryption`; the file was not changed, so `pulumi up` tries again",
            );
        }
        log.push("verified: the database accepts the configured password");
        if (action.checkOldRefused && file !== undefined) {
            const old = await host.login(file);
            if (old.ok) throw new RotationError(`role "${user}" still accepts the previous password after ALTER ROLE`, "look for another role or pg_hba.conf rule that lets it in; run `pulumi up` again");
            if (!old.refused) throw new RotationError(`the previous password could not be tried: ${old.message}`, "make the db healthy and run `pulumi up` again");
            log.push("verified: the database refuses the previous password");
        }
    }
    await host.writeFile(password);
    log.push(`wrote ${PASSWORD_FILE} on the db-secrets volume`);
    return lines;
}

/**
 * The file step before the db container (`--file-only`): a new data volume is initialised from the
 * file, so it must exist first. An existing file is never changed here: it may be the only record
 * of the password the role has, and changing the role is the rotation step's work, once the db is
 * healthy.
 */
export async function ensurePasswordFile(host: Pick<RotationHost, "readFile" | "writeFile">, password: string): Promise<string> {
    if ((await host.readFile()) !== undefined) return "nothing: the password file exists (the db-password step brings it and the role in line once the db is healthy)";
    await host.writeFile(password);
    return `wrote ${PASSWORD_FILE} on the db-secrets volume: a new data volume is initialised with it`;
}
