import { BackupRef, DatabaseState, HISTORY_QUERY, MigrationPlan, STATE_QUERY, parseStateRows, planMigrations, prismaArgs } from "./plan";
import { maskSecrets } from "../env";

/** Where migrations run: how to query the database and how to run the Prisma CLI of the api. */
export interface MigrationTarget {
    /** Runs SQL and returns psql's unaligned `-At -F '|'` output. */
    psql(sql: string): Promise<string>;
    /** Runs `prisma <args>` with DATABASE_URL set; never throws for a non-zero exit. */
    prisma(args: string[]): Promise<{ code: number; output: string }>;
}

export interface MigrationOutcome {
    plan: MigrationPlan;
    /** What ran, masked: the log a person reads in `pulumi up`. */
    log: string[];
}

export class MigrationError extends Error {
    constructor(message: string, readonly log: string[]) {
        super(message);
        this.name = "MigrationError";
    }
}

/**
 * The migration a failed Prisma run names: the native engine says `Migration name: x`, the
 * JavaScript engine (Prisma 6.19 with a driver adapter) `with migration_name="x"`.
 */
export function failedMigrationName(output: string): string | undefined {
    return (
        /migration_name="([^"]+)"/.exec(output)?.[1] ??
        /Migration name: (\S+)/.exec(output)?.[1] ??
        /migration [`"]?(\w+)[`"]? failed/i.exec(output)?.[1]
    );
}

export async function readDatabaseState(target: MigrationTarget): Promise<DatabaseState> {
    const state = parseStateRows(await target.psql(STATE_QUERY));
    if (state.hasHistoryTable) state.history = parseStateRows(await target.psql(HISTORY_QUERY)).history;
    return state;
}

export type ChangingPlan = Extract<MigrationPlan, { ok: true }>;

export interface MigrationHooks {
    /**
     * Runs once after planning and before the first Prisma command, only when the plan changes
     * the schema or the history (the pre-migration backup). Throwing stops the migration with
     * nothing changed.
     */
    beforeChanges?: (plan: ChangingPlan, log: (line: string) => void) => Promise<void>;
    /** The backup taken before a migration, for a failed or interrupted one's recovery. */
    backupBefore?: (migration: string) => BackupRef | undefined;
}

/**
 * Plans from the live database, then runs each step; stops at the first failure with the
 * Prisma output (masked) and the recovery, so the update stops before the api is replaced.
 */
export async function runMigrations(target: MigrationTarget, local: string[], baseline: string, secrets: string[], hooks: MigrationHooks = {}): Promise<MigrationOutcome> {
    const mask = (s: string): string => maskSecrets(s, secrets);
    const log: string[] = [];
    const state = await readDatabaseState(target);
    log.push(`database: ${state.appTables.length} app table(s), ${state.hasHistoryTable ? `${state.history.length} migration(s) in history` : "no migration history"}`);
    const plan = planMigrations(state, local, baseline, hooks.backupBefore);
    if (!plan.ok) {
        log.push(`refused: ${plan.error}`, `recovery: ${plan.recovery}`);
        throw new MigrationError(`migration refused (${plan.code}): ${plan.error}\nrecovery: ${plan.recovery}`, log);
    }
    log.push(`plan: ${plan.summary}`);
    if (plan.steps.length > 0 && hooks.beforeChanges) {
        try {
            await hooks.beforeChanges(plan, (line) => log.push(mask(line)));
        } catch (err) {
            const why = mask((err as Error).message);
            log.push(`refused: ${why}`, "nothing was changed: no Prisma command ran");
            throw new MigrationError(`migration not run: ${why}\nnothing was changed: no Prisma command ran`, log);
        }
    }
    for (const step of plan.steps) {
        const args = prismaArgs(step);
        log.push(`$ prisma ${args.join(" ")}`);
        const { code, output } = await target.prisma(args);
        const shown = mask(output).trim();
        if (shown) log.push(shown);
        if (code !== 0) {
            const failedName = failedMigrationName(output);
            const recovery = failedName
                ? `fix the migration or the data, then \`npx prisma migrate resolve --rolled-back ${failedName}\` and \`pulumi up\` again`
                : "read the Prisma output above, fix the cause, and run `pulumi up` again";
            log.push(`recovery: ${recovery}`);
            throw new MigrationError(`prisma ${args.join(" ")} failed (exit ${code})${failedName ? ` in migration ${failedName}` : ""}\nrecovery: ${recovery}`, log);
        }
    }
    log.push(plan.steps.length === 0 ? "done: nothing to apply" : "done: database is current");
    return { plan, log };
}
