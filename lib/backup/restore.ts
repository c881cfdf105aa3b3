/**
 * Putting a backup back, in the order that keeps the current database safe: stop the api (so
 * nothing writes), load the dump into a fresh database in one transaction, check its rows
 * against the manifest, and only then switch by renaming both databases in one transaction.
 * Until that switch the current database is never touched; a failed, interrupted or killed
 * restore leaves it as it was, and the next run clears what the last one left.
 */
import { BackupManifest, compareRowCounts, timeStamp } from "./manifest";

/** What a restore needs from the host; `lib/backup/platformHost.ts` is the real one, tests fake it. */
export interface RestoreHost {
    /** Names of the running api containers of the stack (there may be several during a deploy). */
    runningApis(): Promise<string[]>;
    stop(containers: string[]): Promise<void>;
    start(containers: string[]): Promise<void>;
    /** Runs SQL on the maintenance database `postgres`; returns psql's unaligned output. */
    admin(sql: string): Promise<string>;
    /** Loads the dump into `database` in one transaction. */
    load(dumpFile: string, database: string): Promise<void>;
    counts(database: string): Promise<Record<string, number>>;
}

/**
 * Remembers which api containers a restore stopped, so a run that was killed before it could
 * start them again is finished by the next run (which then finds them stopped, not running).
 */
export interface StoppedJournal {
    read(): string[];
    write(containers: string[]): void;
    clear(): void;
}

export interface RestoreOptions {
    journal?: StoppedJournal;
    dumpFile: string;
    manifest: BackupManifest;
    /** The platform's database (`cartie`). */
    database: string;
    owner: string;
    now?: () => Date;
    log?: (line: string) => void;
}

export interface RestoreOutcome {
    /** Where the database that was current before the restore is kept. */
    previous: string;
    stoppedApis: string[];
}

export class RestoreError extends Error {
    constructor(message: string) {
        super(message);
        this.name = "RestoreError";
    }
}

/** `"x"` with inner quotes doubled: a safe SQL identifier. */
export const ident = (name: string): string => `"${name.replace(/"/g, '""')}"`;
/** `'x'` with inner quotes doubled: a safe SQL string. */
export const literal = (s: string): string => `'${s.replace(/'/g, "''")}'`;

export function restoreNames(database: string, at: Date): { scratch: string; previous: string; scratchPrefix: string } {
    const stamp = timeStamp(at).toLowerCase();
    return { scratch: `${database}_restore_${stamp}`, previous: `${database}_before_restore_${stamp}`, scratchPrefix: `${database}_restore_` };
}

/** Drops the fresh databases an earlier, interrupted restore left (never the current one, never a kept previous one). */
export function dropLeftoversSql(scratchPrefix: string): string {
    const pattern = `${scratchPrefix.replace(/[\\_%]/g, (c) => `\\${c}`)}%`;
    return `SELECT datname FROM pg_database WHERE datname LIKE ${literal(pattern)} ORDER BY 1;`;
}

/** The switch: both renames in one transaction, after cutting the connections to the current database. */
export function switchSql(database: string, scratch: string, previous: string): string {
    return [
        `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = ${literal(database)} AND pid <> pg_backend_pid();`,
        "BEGIN;",
        `ALTER DATABASE ${ident(database)} RENAME TO ${ident(previous)};`,
        `ALTER DATABASE ${ident(scratch)} RENAME TO ${ident(database)};`,
        "COMMIT;",
    ].join("\n");
}

export async function restoreBackup(host: RestoreHost, o: RestoreOptions): Promise<RestoreOutcome> {
    const log = o.log ?? (() => undefined);
    const { scratch, previous, scratchPrefix } = restoreNames(o.database, (o.now ?? (() => new Date()))());

    const leftovers = (await host.admin(dropLeftoversSql(scratchPrefix))).split("\n").filter(Boolean);
    for (const name of leftovers) {
        log(`restore: dropping ${name}, left by an interrupted restore`);
        await host.admin(`DROP DATABASE IF EXISTS ${ident(name)} WITH (FORCE);`);
    }

    const running = await host.runningApis();
    const leftStopped = o.journal?.read() ?? [];
    if (leftStopped.length > 0) log(`restore: an interrupted restore left ${leftStopped.join(", ")} stopped; they start again at the end`);
    const apis = [...new Set([...running, ...leftStopped])].sort();
    o.journal?.write(apis);
    log(running.length > 0 ? `restore: stopping the api so nothing writes during the restore: ${running.join(", ")}` : "restore: no api container is running");
    await host.stop(running);
    let switched = false;
    try {
        log(`restore: loading ${o.manifest.file} into a fresh database ${scratch} (one transaction)`);
        await host.admin(`CREATE DATABASE ${ident(scratch)} TEMPLATE template0 OWNER ${ident(o.owner)};`);
        await host.load(o.dumpFile, scratch);
        const diff = compareRowCounts(await host.counts(scratch), o.manifest.rowCounts);
        if (diff.length > 0) throw new RestoreError(`the restored rows differ from the manifest of ${o.manifest.file}:\n  ${diff.join("\n  ")}`);
        log(`restore: rows equal to the manifest in all ${Object.keys(o.manifest.rowCounts).length} table(s)`);
        await host.admin(switchSql(o.database, scratch, previous));
        switched = true;
        log(`restore: switched: ${o.database} is now the backup's data; the database before the restore is kept as ${previous}`);
    } catch (err) {
        log(`restore: failed; ${o.database} was not touched`);
        await host.admin(`DROP DATABASE IF EXISTS ${ident(scratch)} WITH (FORCE);`).catch(() => undefined);
        throw err;
    } finally {
        if (apis.length > 0) {
            log(`restore: starting the api again: ${apis.join(", ")}`);
            await host.start(apis).then(
                () => o.journal?.clear(),
                (err: Error) => {
                    if (switched) throw new RestoreError(`the backup is restored, but the api did not start again (${err.message}): run \`pulumi up\``);
                    log(`restore: starting the api failed too: ${err.message}; run \`pulumi up\``);
                },
            );
        } else o.journal?.clear();
    }
    return { previous, stoppedApis: apis };
}
