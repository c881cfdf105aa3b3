/**
 * The rotation step's host on Docker: the running db container (psql inside it) and the
 * db-secrets volume (read and written by a throwaway container of the db's own image, so the
 * file is owned by that image's postgres user, whatever its uid). Passwords travel on stdin or
 * in the docker CLI's environment (`-e PGPASSWORD` with no value), never in argv.
 */
import { docker } from "../docker/cli";
import { DbStatus, Login, PASSWORD_FILE_NAME, RotationHost } from "./dbPassword";

export interface DockerRotationOptions {
    dbContainer: string;
    secretsVolume: string;
    /** The db's image: it has the postgres user whose uid must own the file. */
    image: string;
    user: string;
    database: string;
}

const MOUNT = "/cartie-secrets";

/** Postgres's words for a refused password (SQLSTATE 28P01), as psql prints them. */
export const REFUSED = /password authentication failed for user/i;

type VolumeAccess = Pick<DockerRotationOptions, "secretsVolume" | "image">;

/** A shell in a throwaway container of the db image with the secrets volume mounted (no network). */
function onVolume(o: VolumeAccess, script: string, mode: "ro" | "rw", input?: string) {
    return docker(["run", "--rm", "-i", "--network", "none", "--user", "0", "-v", `${o.secretsVolume}:${MOUNT}:${mode}`, "--entrypoint", "sh", o.image, "-c", script], { input });
}

/** The file's content, or undefined when there is none yet. */
async function readVolumeFile(o: VolumeAccess): Promise<string | undefined> {
    const file = `${MOUNT}/${PASSWORD_FILE_NAME}`;
    const r = await onVolume(o, `if [ -e ${file} ]; then cat ${file}; else exit 3; fi`, "ro");
    if (r.code === 3) return undefined;
    if (r.code !== 0) throw new Error(`reading the password file on volume ${o.secretsVolume} failed (exit ${r.code}): ${r.stderr.trim()}`);
    return r.stdout;
}

export function dockerRotationHost(o: DockerRotationOptions): RotationHost {
    return {
        async dbStatus(): Promise<DbStatus> {
            const r = await docker(["inspect", "--type", "container", "--format", "{{.State.Running}}", o.dbContainer]);
            if (r.code !== 0) {
                if (/no such (object|container)/i.test(r.stderr)) return "absent";
                throw new Error(`docker inspect ${o.dbContainer} failed: ${r.stderr.trim()}`);
            }
            return r.stdout.trim() === "true" ? "running" : "not-running";
        },
        readFile: () => readVolumeFile(o),
        async writeFile(password) {
            // Written next to the file and renamed over it: a reader sees the old or the new password, never half of one.
            const tmp = `${MOUNT}/.${PASSWORD_FILE_NAME}.new`;
            const script = `umask 077 && cat > ${tmp} && chown postgres:postgres ${tmp} && chmod 0400 ${tmp} && mv -f ${tmp} ${MOUNT}/${PASSWORD_FILE_NAME}`;
            const r = await onVolume(o, script, "rw", password);
            if (r.code !== 0) throw new Error(`writing the password file on volume ${o.secretsVolume} failed (exit ${r.code}): ${r.stderr.trim()}`);
        },
        async login(password): Promise<Login> {
            // The container's own network address: the image trusts 127.0.0.1 and the socket, so only this tests the password.
            const ip = await docker(["inspect", "--type", "container", "--format", "{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}", o.dbContainer]);
            const address = ip.stdout.trim().split(/\s+/).find(Boolean);
            if (ip.code !== 0 || !address) return { ok: false, refused: false, message: `${o.dbContainer} has no network address (${ip.stderr.trim() || "not on a network"})` };
            const r = await docker(["exec", "-i", "-e", "PGPASSWORD", "-e", "PGCONNECT_TIMEOUT=10", o.dbContainer, "psql", "-X", "-w", "-At", "-h", address, "-U", o.user, "-d", o.database, "-c", "SELECT 1"], {
                env: { ...process.env, PGPASSWORD: password },
            });
            if (r.code === 0 && r.stdout.trim() === "1") return { ok: true };
            const message = r.stderr.trim() || r.stdout.trim() || `psql exit ${r.code}`;
            return { ok: false, refused: REFUSED.test(message), message };
        },
        async socketSql(sql) {
            const r = await docker(["exec", "-i", o.dbContainer, "psql", "-X", "-w", "-q", "-v", "ON_ERROR_STOP=1", "-U", o.user, "-d", o.database], { input: sql });
            return r.code === 0 ? { ok: true } : { ok: false, message: r.stderr.trim() || `psql exit ${r.code}` };
        },
    };
}

/** The configured password as the secrets volume holds it, for the migration (read into memory only). */
export async function readPasswordFile(o: VolumeAccess): Promise<string> {
    const content = await readVolumeFile(o);
    if (content === undefined) throw new Error(`volume ${o.secretsVolume} holds no ${PASSWORD_FILE_NAME}: the db-password step writes it; run \`pulumi up\` again`);
    return content;
}
