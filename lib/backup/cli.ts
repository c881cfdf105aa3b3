/**
 * The backup command lines: `npm run backup`, `npm run backups`, `npm run restore-backup -- <file>`.
 * Exit 0 ok, 1 failure, 2 bad input (the convention of scripts/doctor.ts).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import * as readline from "node:readline/promises";
import { parseArgs as nodeParseArgs } from "node:util";
import { parseStackFile, readProjectName } from "../doctor/source";
import { humanBytes, renderBackupList, renderRowCounts, totalRows } from "./manifest";
import { dockerRestoreHost, findPlatformDb } from "./platformHost";
import { RestoreError, restoreBackup } from "./restore";
import { BACKUP_DEFAULTS } from "./settings";
import { BackupError, checkAgainstManifest, fileJournal, listBackups } from "./store";
import { takePlatformBackup } from "./take";

export class BackupInputError extends Error {}

export type Command = "backup" | "backups" | "restore-backup";

export const USAGE: Record<Command, string> = {
    backup: `usage: npm run backup -- [--stack NAME] [--dir FOLDER] [--cwd DIR]
  Takes a backup of the stack's database now (reason "manual"), verified against the live row counts.`,
    backups: `usage: npm run backups -- [--stack NAME] [--dir FOLDER] [--cwd DIR] [--json]
  Lists the backups with time, reason, size and row totals, newest first.`,
    "restore-backup": `usage: npm run restore-backup -- <file.sql> [--yes] [--stack NAME] [--dir FOLDER] [--cwd DIR]
  Puts a backup back into the stack's database: stops the api, restores into a fresh database in one
  transaction, checks the rows against the manifest, switches, starts the api. Not at a terminal it
  needs --yes.`,
};

export interface CliOptions {
    projectDir: string;
    stack: string;
    /** The Pulumi project (labels say which containers are the platform's). */
    project: string;
    /** Absolute backups folder. */
    dir: string;
    json: boolean;
    yes: boolean;
    help: boolean;
    file?: string;
}

export function parseCli(command: Command, argv: string[], env: NodeJS.ProcessEnv = process.env): CliOptions {
    let parsed: ReturnType<typeof parse>;
    try {
        parsed = parse(command, argv);
    } catch (err) {
        throw new BackupInputError(`${(err as Error).message.split(". ")[0]}\n${USAGE[command]}`);
    }
    const v = parsed.values;
    const projectDir = path.resolve(v.cwd ?? process.cwd());
    const stack = v.stack ?? (env.PULUMI_STACK || "dev");
    if (!/^[A-Za-z0-9_.-]+$/.test(stack)) throw new BackupInputError(`"${stack}" is not a stack name`);
    const opts: CliOptions = {
        projectDir,
        stack,
        project: readProjectName(projectDir),
        dir: path.resolve(projectDir, v.dir ?? configuredDir(projectDir, stack)),
        json: v.json ?? false,
        yes: v.yes ?? false,
        help: v.help ?? false,
        file: parsed.positionals[0],
    };
    if (command === "restore-backup" && !opts.help && !opts.file) throw new BackupInputError(`which backup? name its .sql file (\`npm run backups\` lists them)\n${USAGE[command]}`);
    return opts;
}

function parse(command: Command, argv: string[]) {
    return nodeParseArgs({
        args: argv,
        strict: true,
        allowPositionals: command === "restore-backup",
        options: {
            stack: { type: "string", short: "s" },
            dir: { type: "string" },
            cwd: { type: "string" },
            json: { type: "boolean" },
            yes: { type: "boolean", short: "y" },
            help: { type: "boolean", short: "h" },
        },
    });
}

/** `cartie:backupDir` of the stack file, else the default. */
function configuredDir(projectDir: string, stack: string): string {
    const file = path.join(projectDir, `Pulumi.${stack}.yaml`);
    if (!fs.existsSync(file)) return BACKUP_DEFAULTS.dir;
    try {
        return parseStackFile(fs.readFileSync(file, "utf8")).values.backupDir?.value || BACKUP_DEFAULTS.dir;
    } catch (err) {
        throw new BackupInputError(`Pulumi.${stack}.yaml is not valid YAML: ${(err as Error).message.split("\n")[0]}`);
    }
}

/** The stack's name prefix, as lib/config.ts derives it: whose backups they are. */
export function stackPrefix(stack: string): string {
    return `cartie-${stack}`.toLowerCase().replace(/[^a-z0-9_.-]/g, "-");
}

export interface Io {
    out: (s: string) => void;
    err: (s: string) => void;
    /** Whether stdin is a terminal a person answers at. */
    interactive: boolean;
    ask: (question: string) => Promise<string>;
}

export const processIo: Io = {
    out: (s) => process.stdout.write(`${s}\n`),
    err: (s) => process.stderr.write(`${s}\n`),
    interactive: Boolean(process.stdin.isTTY),
    async ask(question) {
        const rl = readline.createInterface({ input: process.stdin, output: process.stdout });
        try {
            return await rl.question(question);
        } finally {
            rl.close();
        }
    },
};

async function runBackup(o: CliOptions, io: Io): Promise<number> {
    const db = await findPlatformDb(o.project, o.stack);
    if (typeof db === "string") throw new BackupInputError(db);
    const m = await takePlatformBackup({ db, dir: o.dir, project: stackPrefix(o.stack), reason: "manual", log: io.out });
    io.out(`backup: ${path.join(o.dir, m.file)}: ${humanBytes(m.bytes)}, ${totalRows(m.rowCounts)} rows in ${Object.keys(m.rowCounts).length} table(s)`);
    return 0;
}

function runList(o: CliOptions, io: Io): number {
    const entries = listBackups(o.dir);
    io.out(o.json ? JSON.stringify(entries, null, 2) : renderBackupList(entries, o.dir));
    return 0;
}

/** The file as given, else the same name inside the backups folder. */
function locate(file: string, o: CliOptions): string {
    const given = path.resolve(file);
    if (fs.existsSync(given)) return given;
    const inDir = path.join(o.dir, path.basename(file));
    return fs.existsSync(inDir) ? inDir : given;
}

async function runRestore(o: CliOptions, io: Io): Promise<number> {
    const file = locate(o.file ?? "", o);
    let manifest;
    try {
        manifest = await checkAgainstManifest(file);
    } catch (err) {
        if (err instanceof BackupError) throw new BackupInputError(err.message);
        throw err;
    }
    const what = `${manifest.file} (${manifest.reason}, taken ${manifest.takenAt} from ${manifest.project}: ${totalRows(manifest.rowCounts)} rows in ${Object.keys(manifest.rowCounts).length} table(s))`;
    // Before the host is even looked at: a script or a pipe never restores by accident.
    if (!o.yes && !io.interactive) {
        throw new BackupInputError(`restoring ${what} replaces the database of stack "${o.stack}": not at a terminal, so confirm with --yes; nothing was changed`);
    }
    const db = await findPlatformDb(o.project, o.stack);
    if (typeof db === "string") throw new BackupInputError(db);
    if (!o.yes) {
        const answer = await io.ask(`Restore ${what}\n  into database ${db.database} of stack "${o.stack}" (container ${db.container})? The api stops meanwhile. Type "restore" to go on: `);
        if (answer.trim() !== "restore") {
            io.out("restore: not confirmed; nothing was changed");
            return 2;
        }
    }
    io.out(`restore: ${what}`);
    const outcome = await restoreBackup(dockerRestoreHost(db, o.project, o.stack), {
        dumpFile: file,
        manifest,
        database: db.database,
        owner: db.user,
        log: io.out,
        journal: fileJournal(o.dir),
    });
    io.out(`restore: done. Rows per table: ${renderRowCounts(manifest.rowCounts)}`);
    io.out(`restore: the database as it was before is kept as ${outcome.previous}; drop it when you no longer need it: docker exec ${db.container} dropdb -U ${db.user} ${outcome.previous}`);
    return 0;
}

export async function main(command: Command, argv: string[], io: Io = processIo): Promise<number> {
    try {
        const o = parseCli(command, argv);
        if (o.help) {
            io.out(USAGE[command]);
            return 0;
        }
        if (command === "backup") return await runBackup(o, io);
        if (command === "backups") return runList(o, io);
        return await runRestore(o, io);
    } catch (err) {
        if (err instanceof BackupInputError) {
            io.err(`${command}: ${err.message}`);
            return 2;
        }
        const known = err instanceof BackupError || err instanceof RestoreError;
        io.err(`${command}: ${known ? "" : "failed: "}${(err as Error).message}`);
        return 1;
    }
}
