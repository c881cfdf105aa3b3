/**
 * The platform's database as a backup source and restore target, through `docker exec` into its
 * db container over Postgres's local socket (trusted inside the container), so no password is
 * needed, and none appears in an argument, a log line or a manifest.
 */
import { ChildProcess, spawn } from "node:child_process";
import * as fs from "node:fs";
import { docker } from "../docker/cli";

export interface DbInContainer {
    container: string;
    user: string;
    database: string;
}

/** Live rows of every ordinary table, one `schema.table|n` line each, inside the caller's transaction. */
export const LIVE_COUNTS_QUERY = `SELECT format('%s.%s', n.nspname, c.relname),
       (xpath('/row/n/text()', query_to_xml(format('SELECT count(*) AS n FROM %I.%I', n.nspname, c.relname), false, true, '')))[1]::text
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%'
 ORDER BY 1;`;

export function parseCounts(output: string): Record<string, number> {
    const counts: Record<string, number> = {};
    for (const line of output.split("\n")) {
        const bar = line.lastIndexOf("|");
        if (bar <= 0) continue;
        counts[line.slice(0, bar)] = Number(line.slice(bar + 1));
    }
    return counts;
}

const psqlArgs = (at: DbInContainer, database = at.database): string[] => ["psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-U", at.user, "-d", database];

/**
 * A psql session kept open, so several statements share one transaction: each `ask` sends SQL
 * and waits for the marker echoed after it.
 */
class PsqlSession {
    private readonly child: ChildProcess;
    private out = "";
    private err = "";
    private readonly exited: Promise<number>;
    private marker = 0;

    constructor(private readonly at: DbInContainer) {
        this.child = spawn("docker", ["exec", "-i", at.container, ...psqlArgs(at)], { stdio: ["pipe", "pipe", "pipe"] });
        this.child.stdout?.on("data", (d: Buffer) => (this.out += d.toString()));
        this.child.stderr?.on("data", (d: Buffer) => (this.err += d.toString()));
        this.child.stdin?.on("error", () => undefined);
        this.exited = new Promise((resolve) => {
            this.child.on("error", () => resolve(127));
            this.child.on("close", (code) => resolve(code ?? 1));
        });
    }

    async ask(sql: string): Promise<string> {
        const marker = `--cartie-backup-${++this.marker}--`;
        const start = this.out.length;
        this.child.stdin?.write(`${sql}\n\\echo ${marker}\n`);
        for (;;) {
            const end = this.out.indexOf(`${marker}\n`, start);
            if (end >= 0) return this.out.slice(start, end);
            const done = await Promise.race([this.exited, new Promise<undefined>((r) => setTimeout(() => r(undefined), 20))]);
            if (done !== undefined) throw new Error(`psql in ${this.at.container} stopped (exit ${done}): ${this.err.trim() || "no error output"}`);
        }
    }

    async close(): Promise<void> {
        this.child.stdin?.end();
        await this.exited;
    }

    kill(): void {
        this.child.kill("SIGKILL");
    }
}

/**
 * Runs `docker <args>` (a pg_dump), streaming its stdout into `outFile` (created, owner-only);
 * rejects with the file-system error (a full disk) or the exit. Secrets travel in `env` only.
 */
export function dockerToFile(args: string[], outFile: string, what: string, env: NodeJS.ProcessEnv = process.env): Promise<void> {
    return new Promise((resolve, reject) => {
        const out = fs.createWriteStream(outFile, { flags: "wx", mode: 0o600 });
        const child = spawn("docker", args, { env, stdio: ["ignore", "pipe", "pipe"] });
        let stderr = "";
        let writeError: Error | undefined;
        let exit: number | null | undefined;
        child.stderr?.on("data", (d: Buffer) => (stderr += d.toString()));
        out.on("error", (err) => {
            writeError = err;
            child.kill("SIGKILL");
        });
        child.stdout?.pipe(out);
        const finish = (): void => {
            if (writeError) reject(writeError);
            else if (exit !== 0) reject(new Error(`${what} failed (exit ${exit ?? "killed"}): ${stderr.trim() || "no error output"}`));
            else resolve();
        };
        child.on("error", reject);
        child.on("close", (code) => {
            exit = code;
            // The file is complete only once the stream flushed (or failed).
            if (out.writableFinished || writeError) finish();
            else out.once("close", finish);
        });
        out.on("finish", () => {
            try {
                const fd = fs.openSync(outFile, "r");
                fs.fsyncSync(fd);
                fs.closeSync(fd);
            } catch {
                // fsync is best effort; the scan that follows reads what is on disk.
            }
        });
    });
}

/**
 * `pg_dump` of the database into `outFile`, and the live row count of every table, both inside
 * one REPEATABLE READ snapshot (exported by a session kept open, imported by `pg_dump
 * --snapshot`): the counts say exactly what the dump must hold, however busy the database is.
 */
export async function dumpWithLiveCounts(at: DbInContainer, outFile: string): Promise<Record<string, number>> {
    const session = new PsqlSession(at);
    try {
        const snapshot = (await session.ask("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY;\nSELECT pg_export_snapshot();")).trim();
        if (!/^[0-9A-F-]+$/i.test(snapshot)) throw new Error(`could not export a snapshot from ${at.container}: got "${snapshot}"`);
        const counts = parseCounts(await session.ask(LIVE_COUNTS_QUERY));
        await dockerToFile(["exec", at.container, "pg_dump", "-U", at.user, "-d", at.database, "--format=plain", `--snapshot=${snapshot}`], outFile, `pg_dump of ${at.database} in ${at.container}`);
        await session.ask("COMMIT;");
        await session.close();
        return counts;
    } catch (err) {
        session.kill();
        throw err;
    }
}

/** One SQL script through psql in the container; returns its unaligned output. */
export async function psqlIn(at: DbInContainer, sql: string, database = at.database): Promise<string> {
    const r = await docker(["exec", "-i", at.container, ...psqlArgs(at, database)], { input: sql });
    if (r.code !== 0) throw new Error(`psql on ${database} in ${at.container} failed (exit ${r.code}): ${r.stderr.trim()}`);
    return r.stdout;
}

export async function liveCounts(at: DbInContainer, database = at.database): Promise<Record<string, number>> {
    return parseCounts(await psqlIn(at, LIVE_COUNTS_QUERY, database));
}

/** Feeds a plain dump to psql in one transaction (`--single-transaction`): all of it lands, or nothing. */
export function loadDump(at: DbInContainer, dumpFile: string, database: string): Promise<void> {
    return new Promise((resolve, reject) => {
        const fd = fs.openSync(dumpFile, "r");
        const child = spawn("docker", ["exec", "-i", at.container, ...psqlArgs(at, database), "--single-transaction"], { stdio: [fd, "ignore", "pipe"] });
        let stderr = "";
        child.stderr?.on("data", (d: Buffer) => (stderr += d.toString()));
        child.on("error", (err) => {
            fs.closeSync(fd);
            reject(err);
        });
        child.on("close", (code) => {
            fs.closeSync(fd);
            if (code === 0) resolve();
            else reject(new Error(`loading the dump into ${database} failed (exit ${code ?? "killed"}); nothing of it was kept: ${stderr.trim().split("\n").slice(-5).join(" | ")}`));
        });
    });
}
