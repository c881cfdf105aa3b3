import { BackupRef, DatabaseState, HISTORY_QUERY, MigrationPlan, MigrationStep, STATE_QUERY, parseStateRows, planMigrations, prismaArgs } from "./plan";
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

/** What the schema check (lib/drift) found before anything changed. */
export interface SchemaCheckResult {
    /** Pending migrations the live database already has (drift fixes): marked applied, never run. */
    alreadyApplied: string[];
}

export interface MigrationHooks {
    /**
     * Runs once after planning, before anything changes (before `beforeChanges`), with the
     * migrations the live database has applied or is taken to have (the baseline of a database
     * without history): the live-drift check. Throwing stops the migration with nothing changed.
     */
    checkSchema?: (applied: string[], plan: ChangingPlan, log: (line: string) => void) => Promise<SchemaCheckResult>;
    /** Runs after the last Prisma command of a plan that changed something; throwing fails the step. */
    afterChanges?: (log: (line: string) => void) => Promise<void>;
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
    const planned = planMigrations(state, local, baseline, hooks.backupBefore);
    if (!planned.ok) {
        log.push(`refused: ${planned.error}`, `recovery: ${planned.recovery}`);
        throw new MigrationError(`migration refused (${planned.code}): ${planned.error}\nrecovery: ${planned.recovery}`, log);
    }
    let plan = planned;
    if (hooks.checkSchema) {
        let checked: SchemaCheckResult;
        try {
            checked = await hooks.checkSchema(appliedOrAssumed(state, planned, local), planned, (line) => log.push(mask(line)));
        } catch (err) {
            const why = mask((err as Error).message);
            log.push(`refused: ${why}`);
            throw new MigrationError(`migration refused (SCHEMA_DRIFT): ${why}`, log);
        }
        plan = markApplied(planned, checked.alreadyApplied);
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
    if (plan.steps.length > 0 && hooks.afterChanges) {
        try {
            await hooks.afterChanges((line) => log.push(mask(line)));
        } catch (err) {
            const why = mask((err as Error).message);
            log.push(`refused: ${why}`);
            throw new MigrationError(`migration ran, but ${why}`, log);
        }
    }
    log.push(plan.steps.length === 0 ? "done: nothing to apply" : "done: database is current");
    return { plan, log };
}

/** Migrations the live database has applied, or is taken to have once the plan's baseline resolve ran. */
export function appliedOrAssumed(state: DatabaseState, plan: ChangingPlan, local: string[]): string[] {
    const applied = new Set(state.history.filter((m) => m.finished && !m.rolledBack).map((m) => m.name));
    for (const step of plan.steps) if (step.kind === "resolve-applied") for (const n of local) if (n <= step.migration) applied.add(n);
    return [...local].sort().filter((n) => applied.has(n));
}

/**
 * The plan with pending migrations the live database already has marked applied instead of run
 * (a drift fix written by `npm run drift -- --propose`, once the check saw the live schema match).
 */
export function markApplied(plan: ChangingPlan, names: string[]): ChangingPlan {
    if (names.length === 0) return plan;
    const marked = new Set(names);
    const steps: MigrationStep[] = [];
    for (const s of plan.steps) {
        if (s.kind !== "deploy") {
            steps.push(s);
            continue;
        }
        for (const n of s.pending.filter((p) => marked.has(p))) steps.push({ kind: "resolve-applied", migration: n, why: "the live database already has what it records (drift check: the live schema matches the migrations up to it)" });
        const rest = s.pending.filter((p) => !marked.has(p));
        if (rest.length > 0) steps.push({ kind: "deploy", pending: rest });
    }
    const summary = steps
        .map((s) => (s.kind === "resolve-applied" ? `mark ${s.migration} as applied: ${s.why}` : `apply ${s.pending.length} pending migration(s): ${s.pending.join(", ")}`))
        .join("; then ");
    return { ok: true, steps, summary };
}
