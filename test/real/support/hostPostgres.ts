/**
 * A throwaway PostgreSQL 15 cluster from the host's Debian binaries: `initdb` + `pg_ctl` as the
 * `postgres` user, data and socket under /tmp, listening on a free port of 127.0.0.1 only.
 * Several databases share one cluster; `stop()` stops the server and removes the directory.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { DB_USER } from "../../../lib/env";
import { exec, execOk, freePort } from "./run";

const PG_BIN = "/usr/lib/postgresql/15/bin";

function bin(name: string): string {
    const p = path.join(PG_BIN, name);
    return fs.existsSync(p) ? p : name;
}

export class HostPostgres {
    private constructor(
        readonly dir: string,
        readonly port: number,
        /** The role the platform uses (`cartie`); a superuser here, as POSTGRES_USER is in the image. */
        readonly password: string,
    ) {}

    get dataDir(): string {
        return path.join(this.dir, "data");
    }

    /** Runs a command as `postgres` when this process is root (initdb refuses root). */
    private static asPostgres(cmd: string, args: string[]): Promise<string> {
        return process.getuid?.() === 0 ? execOk("runuser", ["-u", "postgres", "--", cmd, ...args]) : execOk(cmd, args);
    }

    static async start(password: string): Promise<HostPostgres> {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cartie-real-pg-"));
        fs.chmodSync(dir, 0o755);
        if (process.getuid?.() === 0) await execOk("chown", ["postgres:postgres", dir]);
        const port = await freePort();
        const pg = new HostPostgres(dir, port, password);
        try {
            await pg.init();
        } catch (err) {
            await pg.stop().catch(() => undefined);
            throw err;
        }
        return pg;
    }

    private async init(): Promise<void> {
        const { dir, port, password } = this;
        await HostPostgres.asPostgres(bin("initdb"), ["-D", this.dataDir, "-A", "trust", "-U", "postgres", "--no-sync"]);
        await HostPostgres.asPostgres(bin("pg_ctl"), [
            "-D",
            this.dataDir,
            "-l",
            path.join(dir, "server.log"),
            "-w",
            "-o",
            `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off`,
            "start",
        ]);
        await this.psqlAs("postgres", "postgres", `CREATE ROLE ${DB_USER} LOGIN SUPERUSER PASSWORD '${password.replace(/'/g, "''")}';`);
    }

    /** `postgresql://cartie:…@127.0.0.1:<port>/<db>?schema=public`, the platform's URL shape. */
    url(database: string): string {
        return `postgresql://${DB_USER}:${encodeURIComponent(this.password)}@127.0.0.1:${this.port}/${database}?schema=public`;
    }

    async createDatabase(name: string): Promise<void> {
        await this.psqlAs("postgres", "postgres", `CREATE DATABASE ${name} OWNER ${DB_USER};`);
    }

    /** psql over TCP as `cartie`, unaligned `-At -F '|'` output (what a MigrationTarget's psql returns). */
    async psql(database: string, sql: string): Promise<string> {
        return this.psqlAs(DB_USER, database, sql);
    }

    private async psqlAs(user: string, database: string, sql: string): Promise<string> {
        const r = await exec("psql", ["-X", "-q", "-v", "ON_ERROR_STOP=1", "-At", "-F", "|", "-h", "127.0.0.1", "-p", String(this.port), "-U", user, "-d", database], { input: sql });
        if (r.code !== 0) throw new Error(`psql on ${database} failed (exit ${r.code}): ${r.stderr.trim()}`);
        return r.stdout;
    }

    log(): string {
        try {
            return fs.readFileSync(path.join(this.dir, "server.log"), "utf8").split("\n").slice(-20).join("\n");
        } catch {
            return "";
        }
    }

    async stop(): Promise<void> {
        try {
            if (fs.existsSync(path.join(this.dataDir, "postmaster.pid"))) {
                await HostPostgres.asPostgres(bin("pg_ctl"), ["-D", this.dataDir, "-m", "fast", "-w", "stop"]);
            }
        } finally {
            fs.rmSync(this.dir, { recursive: true, force: true });
        }
    }
}
