/**
 * Forward-only migration planning: from what the database holds and what the code ships, decide
 * the exact Prisma commands to run, or refuse with the reason and the recovery command.
 */

export interface AppliedMigration {
    name: string;
    /** finished_at is set */
    finished: boolean;
    /** rolled_back_at is set */
    rolledBack: boolean;
    /**
     * Unfinished with no `logs`: Prisma records the error of a migration that failed, so one with
     * none never reached an outcome; the process applying it was killed (or the host went down).
     */
    interrupted?: boolean;
}

/** The backup a failed migration's recovery points to (the newest pre-migration one taken before it). */
export interface BackupRef {
    file: string;
    takenAt: string;
}

export interface DatabaseState {
    /** Tables in the app's schema, other than Prisma's own `_prisma_migrations`. */
    appTables: string[];
    /** Whether `_prisma_migrations` exists. */
    hasHistoryTable: boolean;
    history: AppliedMigration[];
}

export type MigrationStep =
    | { kind: "resolve-applied"; migration: string; why: string }
    | { kind: "deploy"; pending: string[] };

export type MigrationPlan =
    | { ok: true; steps: MigrationStep[]; summary: string }
    | { ok: false; code: "P3009" | "UNKNOWN_MIGRATIONS" | "NO_BASELINE"; error: string; recovery: string };

export const HISTORY_TABLE = "_prisma_migrations";

/**
 * A migration that did not finish: nothing more runs until a person says what it left. When it
 * was interrupted (no error recorded) the database may hold part of it, so the first recovery is
 * the backup taken just before it, named with the exact command.
 */
export function failedMigrationPlan(m: AppliedMigration, backup?: BackupRef): Extract<MigrationPlan, { ok: false }> {
    const name = m.name;
    const markByHand = `\`npx prisma migrate resolve --rolled-back ${name}\` (if it left nothing behind) or \`npx prisma migrate resolve --applied ${name}\` (if you finished it by hand), inside the api image`;
    if (m.interrupted) {
        const restore = backup
            ? `put back the backup taken before it (${backup.takenAt}): \`npm run restore-backup -- ${backup.file}\`, then \`pulumi up\` applies ${name} again; or, if you checked that ${name} left nothing behind, mark it with ${markByHand}`
            : `no backup taken before it was found (cartie:preMigrationBackup off, or the backups folder moved): inspect the database, then mark it with ${markByHand}, and run \`pulumi up\` again`;
        return {
            ok: false,
            code: "P3009",
            error: `migration "${name}" started and never finished: the run applying it was interrupted (no error was recorded), so the database may hold part of it; no new migration runs and the api is not started until it is resolved`,
            recovery: restore,
        };
    }
    return {
        ok: false,
        code: "P3009",
        error: `migration "${name}" failed earlier and is not resolved (Prisma P3009); no new migration runs and the api is not started until it is`,
        recovery: `inspect the database, then mark it: ${markByHand.replace(", inside the api image", "")}, and run \`pulumi up\` again${backup ? `; the backup taken before it is ${backup.file} (${backup.takenAt})` : ""}`,
    };
}

export function planMigrations(state: DatabaseState, local: string[], baseline: string, backup?: (migration: string) => BackupRef | undefined): MigrationPlan {
    const localSorted = [...local].sort();
    const failed = state.history.filter((m) => !m.finished && !m.rolledBack);
    if (failed.length > 0) return failedMigrationPlan(failed[0], backup?.(failed[0].name));
    const applied = new Set(state.history.filter((m) => m.finished && !m.rolledBack).map((m) => m.name));
    const unknown = [...applied].filter((n) => !localSorted.includes(n)).sort();
    if (unknown.length > 0) {
        return {
            ok: false,
            code: "UNKNOWN_MIGRATIONS",
            error: `the database has migrations this code does not know: ${unknown.join(", ")}; the code being deployed is older than the database (a stale image or checkout)`,
            recovery: "deploy the code that contains those migrations (check appRoot and the branch); never roll the database back by hand",
        };
    }

    const steps: MigrationStep[] = [];
    let alreadyApplied = applied;
    if (applied.size === 0 && state.appTables.length > 0) {
        if (!localSorted.includes(baseline)) {
            return {
                ok: false,
                code: "NO_BASELINE",
                error: `the database already has tables (${state.appTables.slice(0, 5).join(", ")}) but no migration history, and the baseline "${baseline}" is not among the migrations (${localSorted.join(", ") || "none"})`,
                recovery: `set \`pulumi config set cartie:migrationBaseline <the migration that matches the existing schema>\``,
            };
        }
        steps.push({
            kind: "resolve-applied",
            migration: baseline,
            why: `tables exist (${state.appTables.slice(0, 5).join(", ")}) but there is no migration history (Prisma would refuse with P3005)`,
        });
        alreadyApplied = new Set(localSorted.filter((n) => n <= baseline));
    }
    const pending = localSorted.filter((n) => !alreadyApplied.has(n));
    if (pending.length > 0) steps.push({ kind: "deploy", pending });

    const summary =
        steps.length === 0
            ? `database is current (${applied.size} migrations applied); nothing to do`
            : steps
                  .map((s) => (s.kind === "resolve-applied" ? `mark ${s.migration} as applied: ${s.why}` : `apply ${s.pending.length} pending migration(s): ${s.pending.join(", ")}`))
                  .join("; then ");
    return { ok: true, steps, summary };
}

/** The Prisma CLI arguments for one step. */
export function prismaArgs(step: MigrationStep): string[] {
    return step.kind === "resolve-applied" ? ["migrate", "resolve", "--applied", step.migration] : ["migrate", "deploy"];
}

/** SQL that reads the state `planMigrations` needs, one row per line as `kind|name|finished|rolledBack`. */
export const STATE_QUERY = `
SELECT 'table', table_name, '', '' FROM information_schema.tables
 WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' AND table_name <> '${HISTORY_TABLE}'
UNION ALL
SELECT 'history-table', '${HISTORY_TABLE}', '', '' FROM information_schema.tables
 WHERE table_schema = current_schema() AND table_name = '${HISTORY_TABLE}';
`;

export const HISTORY_QUERY = `SELECT 'migration', migration_name, (finished_at IS NOT NULL)::text, (rolled_back_at IS NOT NULL)::text, (logs IS NULL)::text FROM ${HISTORY_TABLE} ORDER BY started_at;`;

/** Parses psql's unaligned `-At -F '|'` output of STATE_QUERY and HISTORY_QUERY. */
export function parseStateRows(output: string): DatabaseState {
    const state: DatabaseState = { appTables: [], hasHistoryTable: false, history: [] };
    for (const line of output.split(/\r?\n/)) {
        const [kind, name, finished, rolledBack, noLogs] = line.split("|");
        if (kind === "table" && name) state.appTables.push(name);
        else if (kind === "history-table") state.hasHistoryTable = true;
        else if (kind === "migration" && name) {
            const m: AppliedMigration = { name, finished: finished === "true", rolledBack: rolledBack === "true" };
            if (!m.finished && !m.rolledBack && noLogs === "true") m.interrupted = true;
            state.history.push(m);
        }
    }
    state.appTables.sort();
    return state;
}
