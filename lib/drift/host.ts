/**
 * Both drift checks on a stack's Docker host, read-only: the live check through the stack's db
 * container (found by its labels) and the model check in a Prisma sandbox (lib/drift/sandbox.ts)
 * made of the stack's newest api image and a throwaway PostgreSQL. Used by `npm run drift` and
 * `npm run doctor`; the same findings the Migration step would stop at.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { docker } from "../docker/cli";
import { stackContainers } from "../backup/platformHost";
import { PlatformConfig } from "../config";
import { DB_NAME, DB_USER } from "../env";
import { planMigrations } from "../migration/plan";
import { appliedOrAssumed, readDatabaseState } from "../migration/run";
import { DriftFinding } from "./classify";
import { checkLive, DriftSession, LiveCheck } from "./check";
import { dockerDriftTarget, DbContainer } from "./dockerTarget";
import { readMigrations } from "./files";
import { checkModelInContainer } from "./execModel";
import { checkModelSync, ModelCheck } from "./model";
import { parsePrismaSchema } from "./prismaSchema";
import { newestImage, PrismaSandbox } from "./sandbox";

export const DRIFT_SCHEMA_VERSION = 1;

export type ModelOutcome = ModelCheck | { status: "not-run"; reason: string };

export interface LiveOutcome {
    status: "clean" | "drift" | "not-run";
    reason?: string;
    findings: DriftFinding[];
    /** Pending drift fixes the live database already has (`pulumi up` marks them applied). */
    driftFixesPresent: string[];
    /** What would stop the Migration step. */
    blocking: DriftFinding[];
    refusal?: string;
}

export interface DriftReport {
    schemaVersion: typeof DRIFT_SCHEMA_VERSION;
    stack: string;
    db?: DbContainer;
    applied: string[];
    pending: string[];
    live: LiveOutcome;
    model: ModelOutcome;
    notes: string[];
}

export interface StackSource {
    stack: string;
    /** The Pulumi project (the labels' value). */
    project: string;
    /** `cartie-<stack>`: the names of the stack's images. */
    prefix: string;
    /** The api folder of the working tree (`<appRoot>/apps/api`). */
    apiDir: string;
    /** How to show it (relative to the project). */
    apiDisplay: string;
    baseline: string;
    postgresImage: string;
}

/** What `propose` needs besides the report. */
export interface DriftRun {
    report: DriftReport;
    session?: DriftSession;
    check?: LiveCheck;
}

/** A stack's source from its validated config (lib/config). */
export function sourceOf(cfg: PlatformConfig, projectDir: string, stack: string, project: string): StackSource {
    const apiDir = path.join(cfg.appRootAbs, "apps/api");
    return {
        stack,
        project,
        prefix: cfg.namePrefix,
        apiDir,
        apiDisplay: path.relative(projectDir, apiDir) || ".",
        baseline: cfg.migrationBaseline,
        postgresImage: cfg.postgresImage,
    };
}

/** The stack's running db container, as the api reaches it (its role and database from the container's environment). */
export async function findStackDb(project: string, stack: string): Promise<DbContainer | string> {
    const running = await stackContainers(project, stack, "db");
    if (running.length !== 1) {
        if (running.length > 1) return `more than one running db container is labelled for stack "${stack}" (${running.join(", ")})`;
        const all = await stackContainers(project, stack, "db", { all: true });
        return all.length > 0 ? `the db container of stack "${stack}" (${all.join(", ")}) is not running: start it or run \`pulumi up\`` : `no db container is labelled for stack "${stack}" on this Docker host (check --stack and DOCKER_HOST)`;
    }
    const r = await docker(["inspect", "--type", "container", "--format", "{{json .Config.Env}}", running[0]]);
    const env = r.code === 0 ? (JSON.parse(r.stdout) as string[] | null) ?? [] : [];
    const value = (name: string): string | undefined => env.find((e) => e.startsWith(`${name}=`))?.slice(name.length + 1) || undefined;
    const user = value("POSTGRES_USER") ?? DB_USER;
    return { container: running[0], user, database: value("POSTGRES_DB") ?? (value("POSTGRES_USER") ? user : DB_NAME) };
}

export interface InspectOptions {
    /** The live database, or why there is none to look at; unset: the stack's db container, found by its labels. */
    db?: DbContainer | string;
    /**
     * Where Prisma runs for the model check: `sandbox` (throwaway containers, `npm run drift`),
     * `exec` in a running api container (the doctor, which starts nothing), or not at all.
     */
    model?: false | "sandbox" | { exec?: string };
}

/** Both checks. Never throws for what it finds; a check that cannot run says why in its outcome. */
export async function inspectDrift(src: StackSource, opts: InspectOptions = {}): Promise<DriftRun> {
    const notes: string[] = [];
    const migrationsDir = path.join(src.apiDir, "prisma", "migrations");
    const schemaFile = path.join(src.apiDir, "prisma", "schema.prisma");
    const schemaText = fs.existsSync(schemaFile) ? fs.readFileSync(schemaFile, "utf8") : undefined;
    const migrations = fs.existsSync(migrationsDir) ? readMigrations(migrationsDir) : [];
    const model = schemaText !== undefined ? parsePrismaSchema(schemaText) : undefined;
    const report: DriftReport = {
        schemaVersion: DRIFT_SCHEMA_VERSION,
        stack: src.stack,
        applied: [],
        pending: [],
        live: { status: "not-run", findings: [], driftFixesPresent: [], blocking: [] },
        model: { status: "not-run", reason: "not asked for" },
        notes,
    };
    let session: DriftSession | undefined;
    let check: LiveCheck | undefined;

    const db = opts.db ?? (await findStackDb(src.project, src.stack));
    if (typeof db === "string") report.live.reason = db;
    else {
        report.db = db;
        const target = dockerDriftTarget(db);
        try {
            const state = await readDatabaseState({ psql: (sql) => target.psql(db.database, sql), prisma: () => Promise.reject(new Error("read-only")) });
            const plan = planMigrations(
                state,
                migrations.map((m) => m.name),
                src.baseline,
            );
            const applied = plan.ok ? appliedOrAssumed(state, plan, migrations.map((m) => m.name)) : state.history.filter((h) => h.finished && !h.rolledBack).map((h) => h.name);
            if (!plan.ok) notes.push(`the Migration step would refuse before the drift check (${plan.code}): ${plan.error}`);
            session = new DriftSession(target, migrations);
            await session.sweep();
            check = await checkLive(session, { applied, model });
            report.applied = check.applied;
            report.pending = check.pending;
            report.live = {
                status: check.findings.length === 0 ? "clean" : "drift",
                findings: check.findings,
                driftFixesPresent: check.driftFixesPresent,
                blocking: check.blocking,
                ...(check.refusal ? { refusal: check.refusal } : {}),
            };
        } catch (err) {
            report.live.reason = `the live check could not run: ${(err as Error).message.split("\n")[0]}`;
            session = undefined;
        }
    }

    const names = migrations.map((m) => m.name);
    const how = opts.model ?? "sandbox";
    if (how === "sandbox") report.model = modelOnHost(src, schemaText, names);
    else if (how !== false) {
        if (schemaText === undefined) report.model = { status: "not-run", reason: `no ${src.apiDisplay}/prisma/schema.prisma` };
        else if (!how.exec) report.model = { status: "not-run", reason: "no running api container of the stack to run Prisma in (the doctor starts none; `npm run drift` runs it in a throwaway one)" };
        else report.model = await checkModelInContainer(how.exec, path.join(src.apiDir, "prisma"), schemaText, names, src.apiDisplay);
    }
    return { report, session, check };
}

/** The model check in a sandbox of the stack's newest api image, or why it cannot run here. */
export function modelOnHost(src: StackSource, schemaText: string | undefined, migrations: string[]): ModelOutcome {
    if (schemaText === undefined) return { status: "not-run", reason: `no ${src.apiDisplay}/prisma/schema.prisma` };
    const image = newestImage([`${src.prefix}-api-migrator`, `${src.prefix}-api`]);
    if (!image) return { status: "not-run", reason: `no api image of stack "${src.stack}" on this host to run Prisma from yet (\`pulumi up\` builds one)` };
    let box: PrismaSandbox;
    try {
        box = PrismaSandbox.open({ prefix: src.prefix, prismaImage: image.ref, postgresImage: src.postgresImage, apiDir: src.apiDir });
    } catch (err) {
        return { status: "not-run", reason: (err as Error).message };
    }
    try {
        return checkModelSync((args) => box.prisma(args), schemaText, migrations, src.apiDisplay);
    } finally {
        box.close();
    }
}
