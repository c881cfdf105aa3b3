/**
 * The live-drift check: the live schema against the schema the migrations produce, the latter
 * built in scratch databases on the same server (the same PostgreSQL version renders types,
 * defaults and definitions the same way, so a clean database reports nothing).
 *
 * Scratch databases are named `cartie_drift_<unix seconds>_<random>_<purpose>` (nothing else uses
 * that prefix), created from template0 (only what the migrations create is in them) and dropped
 * as soon as they have been read, failure or not; one left by a killed run is dropped by the next
 * run once it is an hour old. The live database is only read: the catalog query, `pg_dump
 * --schema-only`, and row counts of what differs.
 *
 * Migrations are applied to a scratch database the way Prisma 6.19.3 applies them through its
 * Postgres adapter (@prisma/adapter-pg 6.19.3, dist/index.js `executeScript`): the script split on
 * every `;` (comments and string literals included), each piece run on its own, in autocommit. So
 * a migration that Prisma would break apart fails here too, before it reaches the live database.
 */
import * as crypto from "node:crypto";
import { catalogQuery, parseCatalog, quoteIdent, readSchema, sqlString } from "./catalog";
import { ClassifyContext, classifyAll, DriftFinding, findingLine } from "./classify";
import { diffSchemas } from "./diff";
import { PrismaSchemaInfo } from "./prismaSchema";
import { isDriftFix } from "./propose";
import { Difference, LiveData, SchemaSnapshot } from "./types";

/** Where the live database is and how to reach its server. */
export interface DriftTarget {
    /** The live database's name. */
    readonly database: string;
    /** Runs SQL on a database of the live server; returns psql's `-At` output; throws naming the error. */
    psql(database: string, sql: string): Promise<string>;
    /** `pg_dump --schema-only --schema=public` of the live database, without Prisma's history table. */
    dumpSchema(): Promise<string>;
}

export interface LocalMigration {
    name: string;
    sql: string;
}

/** The statements Prisma's Postgres adapter runs for a migration script (see the module comment). */
export function adapterStatements(script: string): string[] {
    return script
        .split(";")
        .map((s) => s.trim())
        .filter((s) => s.length > 0);
}

export class DriftCheckError extends Error {
    constructor(message: string) {
        super(message);
        this.name = "DriftCheckError";
    }
}

export const SCRATCH_PREFIX = "cartie_drift_";
/** `\warn` lines in a scratch session: which part ran last when psql stopped at an error. */
const MARKER = "cartie-drift-part:";
const READ_BACK = "read-back";
const LIVE_COPY = "live-schema-copy";

type ScratchOutcome = { ok: true; schema?: SchemaSnapshot } | { ok: false; label: string; error: string };
/** A scratch database older than this is a leftover of a killed run. */
export const SCRATCH_STALE_SECONDS = 3600;

export function scratchName(purpose: string, now: Date, random: string = crypto.randomBytes(4).toString("hex")): string {
    return `${SCRATCH_PREFIX}${Math.floor(now.getTime() / 1000)}_${random}_${purpose.replace(/[^a-z0-9]/g, "").slice(0, 12)}`;
}

/** Leftover scratch databases (by the time in their name) that are old enough to drop. */
export function staleScratch(names: string[], now: Date): string[] {
    const nowS = Math.floor(now.getTime() / 1000);
    return names.filter((n) => {
        const m = new RegExp(`^${SCRATCH_PREFIX}(\\d+)_[0-9a-f]+_`).exec(n);
        return m !== null && nowS - Number(m[1]) > SCRATCH_STALE_SECONDS;
    });
}

/** The drift-relevant key of a difference: the same object drifting the same way. */
export function objectKey(d: Difference): string {
    return `${d.kind}:${d.change}:${d.table ?? ""}:${d.name}`;
}

/** One check's view of a database server: builds and reads schemas, each build in its own scratch database. */
export class DriftSession {
    private readonly built = new Map<string, Promise<SchemaSnapshot>>();
    private liveSnapshot?: Promise<SchemaSnapshot>;

    constructor(
        readonly target: DriftTarget,
        readonly migrations: LocalMigration[],
        private readonly now: () => Date = () => new Date(),
    ) {}

    private sql(database: string, text: string): Promise<string> {
        return this.target.psql(database, text);
    }

    /** Drops scratch databases a killed run left behind (older than an hour). */
    async sweep(): Promise<string[]> {
        const names = (await this.sql(this.target.database, `SELECT datname FROM pg_database WHERE datname LIKE ${sqlString(`${SCRATCH_PREFIX}%`)};`)).split(/\r?\n/).filter(Boolean);
        const stale = staleScratch(names, this.now());
        for (const n of stale) await this.sql(this.target.database, `DROP DATABASE IF EXISTS ${quoteIdent(n)} WITH (FORCE);`);
        return stale;
    }

    /**
     * One scratch database in one psql session (a `docker exec` costs more than the SQL): create it,
     * `\connect` to it, run `parts` (each migration after a `\warn` marker, so a failure names
     * it), read the schema back if asked, `\connect` back and drop it. psql stops at the first
     * error (ON_ERROR_STOP); the database is then dropped by a second call, so it never stays.
     */
    private async inScratch(purpose: string, parts: { label?: string; sql: string }[], readBack: boolean): Promise<ScratchOutcome> {
        const name = scratchName(purpose, this.now());
        const q = quoteIdent(name);
        const script = [
            `CREATE DATABASE ${q} TEMPLATE template0;`,
            `\\connect ${q}`,
            ...parts.flatMap((p) => [...(p.label ? [`\\warn ${MARKER}${p.label}`] : []), p.sql]),
            ...(readBack ? [`\\warn ${MARKER}${READ_BACK}`, catalogQuery()] : []),
            `\\connect ${quoteIdent(this.target.database)}`,
            `DROP DATABASE ${q} WITH (FORCE);`,
            "",
        ].join("\n");
        try {
            const out = await this.sql(this.target.database, script);
            return { ok: true, ...(readBack ? { schema: parseCatalog(out) } : {}) };
        } catch (err) {
            const message = (err as Error).message;
            await this.sql(this.target.database, `DROP DATABASE IF EXISTS ${q} WITH (FORCE);`).catch(() => undefined);
            const labels = [...message.matchAll(new RegExp(`${MARKER}(\\S+)`, "g"))].map((m) => m[1]);
            const last = labels.at(-1);
            const reason = message.split("\n").filter((l) => !l.includes(MARKER)).join("\n").trim();
            if (labels.length === 0 && /CREATE DATABASE|permission denied to create database/i.test(message))
                throw new DriftCheckError(`the drift check could not create its scratch database ${name} on the live server: ${reason.split("\n")[0]} (the role needs CREATEDB, as the image's POSTGRES_USER has)`);
            if (!last || last === READ_BACK) throw new DriftCheckError(`the drift check's scratch database ${name} failed: ${reason.split("\n")[0]}`);
            return { ok: false, label: last, error: reason };
        }
    }

    private statementsOf(m: LocalMigration): { label: string; sql: string } {
        return { label: m.name, sql: adapterStatements(m.sql).map((x) => `${x};`).join("\n") };
    }

    private resolve(names: string[], extra: LocalMigration[] = []): LocalMigration[] {
        const byName = new Map([...this.migrations, ...extra].map((m) => [m.name, m]));
        return names.map((n) => {
            const m = byName.get(n);
            if (!m) throw new DriftCheckError(`migration ${n} is not in the migrations folder`);
            return m;
        });
    }

    /** The schema the named migrations (in order) produce on an empty database. */
    build(names: string[]): Promise<SchemaSnapshot> {
        return this.buildWith(names, []);
    }

    /** The same, with migrations that are not (yet) in the folder, e.g. a proposed fix. */
    buildWith(names: string[], extra: LocalMigration[]): Promise<SchemaSnapshot> {
        const key = [...names, ...extra.map((m) => m.sql)].join("\n");
        let p = this.built.get(key);
        if (!p) {
            const list = this.resolve(names, extra);
            p = this.inScratch("build", list.map((m) => this.statementsOf(m)), true).then((r) => {
                if (!r.ok) throw new DriftCheckError(`the migrations do not build on an empty database: ${r.label} fails: ${r.error.split("\n")[0]}`);
                if (!r.schema) throw new DriftCheckError("the scratch database's schema was not read back");
                return r.schema;
            });
            this.built.set(key, p);
        }
        return p;
    }

    live(): Promise<SchemaSnapshot> {
        this.liveSnapshot ??= readSchema((sql) => this.sql(this.target.database, sql));
        return this.liveSnapshot;
    }

    /** Forgets the live schema read before (after the Migration step changed it). */
    refreshLive(): void {
        this.liveSnapshot = undefined;
    }

    /**
     * The live schema with `pending` applied, in a scratch copy of its schema (pg_dump
     * --schema-only); a pending migration that fails there would fail on the live database.
     */
    async simulate(pending: string[]): Promise<{ ok: true; schema: SchemaSnapshot } | { ok: false; migration: string; error: string }> {
        const dump = await this.target.dumpSchema();
        // The dump creates the schema itself, and sets the session up for itself (an empty
        // search_path among others): RESET ALL gives the migrations a session like Prisma's.
        const parts = [{ label: LIVE_COPY, sql: `DROP SCHEMA public;\n${dump}\nRESET ALL;` }, ...this.resolve(pending).map((m) => this.statementsOf(m))];
        const r = await this.inScratch("pending", parts, true);
        if (r.ok && r.schema) return { ok: true, schema: r.schema };
        if (!r.ok && r.label === LIVE_COPY) throw new DriftCheckError(`the live schema could not be copied into a scratch database: ${r.error.split("\n")[0]}`);
        return { ok: false, migration: r.ok ? "" : r.label, error: r.ok ? "" : r.error };
    }

    /** Whether `pending` applies cleanly on a database built by `applied` (no drift at all). */
    async replays(applied: string[], pending: string[]): Promise<{ ok: true } | { ok: false; migration: string; error: string }> {
        const r = await this.inScratch("replay", this.resolve([...applied, ...pending]).map((m) => this.statementsOf(m)), false);
        return r.ok ? { ok: true } : { ok: false, migration: r.label, error: r.error };
    }

    /** Row counts of the live tables and values of the live columns a list of differences names. */
    async liveData(diffs: Difference[]): Promise<LiveData> {
        const data: LiveData = { tableRows: {}, columnValues: {} };
        const one = async (sql: string): Promise<number> => {
            try {
                const out = await this.sql(this.target.database, `SET statement_timeout = '10s';\n${sql}`);
                return Number(out.trim().split(/\r?\n/).at(-1));
            } catch {
                return -1;
            }
        };
        for (const d of diffs) {
            if (d.kind === "table" && d.change !== "missing") {
                const t = d.liveName ?? d.name;
                data.tableRows[t] = await one(`SELECT count(*) FROM ${quoteIdent(t)};`);
            } else if (d.kind === "column" && d.change !== "missing" && d.table) {
                const live = await this.live();
                const renamed = diffs.find((x) => x.kind === "table" && x.change === "renamed" && x.name === d.table)?.liveName;
                const t = renamed ?? d.table;
                if (live.tables.some((x) => x.name === t)) data.columnValues[`${d.table}.${d.name}`] = await one(`SELECT count(${quoteIdent(d.name)}) FROM ${quoteIdent(t)};`);
            }
        }
        return data;
    }
}


export interface LiveCheckOptions {
    /** Names the live database has applied (history), or is taken to have (the baseline of a database without history). */
    applied: string[];
    model?: PrismaSchemaInfo;
}

export type PendingOutcome = { ok: true; findings: DriftFinding[] } | { ok: false; migration: string; error: string };

export interface LiveCheck {
    applied: string[];
    pending: string[];
    /** Pending drift fixes (lib/drift/propose.ts) the live database already has: marked applied instead of run. */
    driftFixesPresent: string[];
    expected: SchemaSnapshot;
    live: SchemaSnapshot;
    /** The live schema against the applied migrations', classified, most serious first. */
    findings: DriftFinding[];
    /** What is left once the pending migrations ran (on a scratch copy of the live schema). */
    afterPending?: PendingOutcome;
    /** Errors the pending migrations do not fix: each one stops the Migration step. */
    blocking: DriftFinding[];
    /** A pending migration that fails even on a database without drift (it is broken itself; Prisma will say so). */
    brokenMigration?: string;
    /** Set when the Migration step must stop: what to tell the person, every difference named. */
    refusal?: string;
}

async function classified(session: DriftSession, expected: SchemaSnapshot, live: SchemaSnapshot, model: PrismaSchemaInfo | undefined): Promise<DriftFinding[]> {
    const diffs = diffSchemas(expected, live);
    const ctx: ClassifyContext = { expected, live, model, data: diffs.length > 0 ? await session.liveData(diffs) : undefined };
    return classifyAll(diffs, ctx);
}

const isSubset = (a: Difference[], b: Difference[]): boolean => {
    const keys = new Set(b.map(objectKey));
    return a.every((d) => keys.has(objectKey(d)));
};

/**
 * The check the Migration step runs before it changes anything (and `npm run drift`, the doctor):
 * what differs, whether the pending migrations fix it, which pending drift fixes the live database
 * already has, and whether to stop.
 */
export async function checkLive(session: DriftSession, opts: LiveCheckOptions): Promise<LiveCheck> {
    const names = session.migrations.map((m) => m.name);
    const appliedSet = new Set(opts.applied);
    const applied = names.filter((n) => appliedSet.has(n));
    const pending = names.filter((n) => !appliedSet.has(n));
    const [live, expected] = await Promise.all([session.live(), session.build(applied)]);
    const findings = await classified(session, expected, live, opts.model);
    const base = { applied, pending, expected, live, findings };
    if (pending.length === 0) {
        const blocking = findings.filter((f) => f.severity === "error");
        return { ...base, driftFixesPresent: [], blocking, ...(blocking.length > 0 ? { refusal: refusalText(blocking, []) } : {}) };
    }

    // Leading drift fixes the live database already has: applying each moves the migrations'
    // schema only toward the live one (no difference appears that was not there before).
    const sqlOf = new Map(session.migrations.map((m) => [m.name, m.sql]));
    const present: string[] = [];
    let current = applied;
    let currentDiffs = diffSchemas(expected, live);
    for (const name of pending) {
        if (!isDriftFix(sqlOf.get(name) ?? "")) break;
        const next = [...current, name];
        const nextDiffs = diffSchemas(await session.build(next), live);
        if (!isSubset(nextDiffs, currentDiffs) || nextDiffs.length >= currentDiffs.length) break;
        present.push(name);
        current = next;
        currentDiffs = nextDiffs;
    }
    const rest = pending.filter((n) => !present.includes(n));
    let afterPending: PendingOutcome;
    if (rest.length === 0) afterPending = { ok: true, findings: await classified(session, await session.build(current), live, opts.model) };
    else {
        const sim = await session.simulate(rest);
        afterPending = sim.ok ? { ok: true, findings: await classified(session, await session.build(names), sim.schema, opts.model) } : sim;
    }
    if (!afterPending.ok) {
        // A migration that fails on a database without any drift too is broken, not drift: it runs
        // as before and Prisma reports it (with its recovery); the check only stops what drift causes.
        const clean = await session.replays(current, rest);
        if (!clean.ok) {
            const blocking = findings.filter((f) => f.severity === "error");
            return {
                ...base,
                driftFixesPresent: present,
                afterPending,
                brokenMigration: clean.migration,
                blocking,
                ...(blocking.length > 0 ? { refusal: refusalText(blocking, rest) } : {}),
            };
        }
        const refusal = [
            `pending migration ${afterPending.migration} would fail on the live schema: ${afterPending.error.split("\n")[0]}`,
            ...(findings.length > 0 ? ["the live schema differs from what the applied migrations produce:", ...findings.map((f) => `  - ${findingLine(f)}`)] : []),
            "fix: make the live schema match the migrations (or record it: `npm run drift -- --propose`), then `pulumi up` again; nothing was changed",
        ].join("\n");
        return { ...base, driftFixesPresent: present, afterPending, blocking: findings.filter((f) => f.severity === "error"), refusal };
    }
    const left = new Set(afterPending.findings.map(objectKey));
    const marked = findings.map((f) => ({ ...f, fixedByPending: !left.has(objectKey(f)) }));
    const blocking = afterPending.findings.filter((f) => f.severity === "error");
    return { ...base, findings: marked, driftFixesPresent: present, afterPending, blocking, ...(blocking.length > 0 ? { refusal: refusalText(blocking, rest) } : {}) };
}

function refusalText(blocking: DriftFinding[], pending: string[]): string {
    return [
        `the live schema differs from the migrations in ${blocking.length} way(s) ${pending.length > 0 ? `the pending migrations (${pending.join(", ")}) do not fix` : "no pending migration fixes"}:`,
        ...blocking.map((f) => `  - ${findingLine(f)}\n    means: ${f.api}\n    fix:   ${f.fix}${f.restoreSql && f.restoreSql.includes("\n") ? `\n${f.restoreSql.replace(/^/gm, "      ")}` : ""}`),
        "nothing was changed: no backup, no Prisma command; `npm run drift` shows every difference",
    ].join("\n");
}

/** After the Migration step ran: the live schema against every migration, for the log and the last word. */
export async function checkAfter(session: DriftSession, model?: PrismaSchemaInfo): Promise<{ findings: DriftFinding[]; blocking: DriftFinding[] }> {
    session.refreshLive();
    const findings = await classified(session, await session.build(session.migrations.map((m) => m.name)), await session.live(), model);
    return { findings, blocking: findings.filter((f) => f.severity === "error") };
}
