/**
 * The three steps of a takeover as the command resources run them: preflight (read only),
 * backup (writes only under the backups folder), takeover (stops and removes legacy containers,
 * never a volume). Each step re-reads the host, so any of them can be re-run after an
 * interruption and finishes; with nothing legacy left each is a no-op that says so.
 */
import { BackupManifest, latestCompleteBackup, renderRowCounts } from "../backup/manifest";
import { readManifests, sizeIn, writeBackup } from "../backup/store";
import { decideBackup, decideTakeover } from "./backup";
import { DbAddress, TakeoverHost } from "./host";
import { reachableAddress } from "./inspect";
import { TakeoverPlan, TakeoverRefused, dataLocation, mountsVolume, parseServerMajor, planTakeover, renderPlan } from "./plan";
import { HostFacts, TakeoverInputs } from "./types";

export interface StepContext {
    host: TakeoverHost;
    inputs: TakeoverInputs;
    /** `cartie:postgresPassword`: the platform's db will open the adopted data directory with it. */
    password: string;
    /** Folder of the backups (`backups/` under the project). */
    backupDir: string;
    log: (line: string) => void;
    now?: () => Date;
    /** How long to wait for the legacy db to be gone from the volume. */
    releaseTimeoutMs?: number;
}

export async function gatherFacts(ctx: StepContext, opts: { checkPassword?: boolean } = {}): Promise<HostFacts> {
    const { host, inputs } = ctx;
    const [versionOut, exists, legacy, onVolume] = await Promise.all([
        host.serverVersion(inputs.postgresImage),
        host.volumeExists(inputs.dataVolume),
        host.projectContainers(inputs.project),
        host.volumeContainers(inputs.dataVolume),
    ]);
    const imageMajor = parseServerMajor(versionOut);
    if (imageMajor === undefined) throw new TakeoverRefused(`cartie:postgresImage ${inputs.postgresImage} is not a Postgres image: \`postgres --version\` said "${versionOut}"`);
    // Where the data directory may be: the configured folder and wherever a legacy db on the volume keeps it.
    const subdirs = [inputs.pgdataSubdir, ...legacy.filter((c) => mountsVolume(c, inputs.dataVolume)).flatMap((c) => dataLocation(c)?.subdir ?? [])];
    const probe = exists ? await host.probeVolume(inputs.postgresImage, inputs.dataVolume, [...new Set(subdirs)]) : { entries: [], pgVersions: {} };
    const legacyIds = new Set(legacy.map((c) => c.id));
    const facts: HostFacts = {
        inputs,
        imageMajor,
        volume: { exists, ...probe },
        legacy,
        others: onVolume.filter((c) => !legacyIds.has(c.id)),
    };
    // The password check only makes sense once everything else holds and a legacy db runs.
    const draft = planTakeover(facts);
    if (opts.checkPassword && draft.problems.length === 0 && draft.db?.live && draft.credentials) {
        const at = address(draft);
        if (at) facts.passwordAccepted = await host.checkPassword(inputs.postgresImage, at, ctx.password);
    }
    return facts;
}

function address(plan: TakeoverPlan): DbAddress | undefined {
    if (!plan.db || !plan.credentials) return undefined;
    const a = reachableAddress(plan.db, plan.project);
    return a ? { ...a, user: plan.credentials.user, db: plan.credentials.db } : undefined;
}

async function currentPlan(ctx: StepContext, checkPassword = false): Promise<TakeoverPlan> {
    return planTakeover(await gatherFacts(ctx, { checkPassword }));
}

export async function preflight(ctx: StepContext): Promise<TakeoverPlan> {
    const plan = await currentPlan(ctx, true);
    for (const line of renderPlan(plan)) ctx.log(line);
    if (plan.problems.length > 0) throw new TakeoverRefused(`takeover preflight refused (${plan.problems.length} problem${plan.problems.length === 1 ? "" : "s"}); nothing was changed`);
    if (plan.nothingLegacy) ctx.log("preflight: nothing legacy left (no-op)");
    return plan;
}

function latest(ctx: StepContext): BackupManifest | undefined {
    return latestCompleteBackup(ctx.inputs.project, readManifests(ctx.backupDir), sizeIn(ctx.backupDir));
}

export async function backup(ctx: StepContext): Promise<BackupManifest | undefined> {
    const plan = await currentPlan(ctx);
    const decision = decideBackup(plan, latest(ctx));
    if (decision.kind === "refuse") {
        for (const line of renderPlan(plan)) ctx.log(line);
        throw new TakeoverRefused(decision.message);
    }
    ctx.log(`backup: ${decision.message}`);
    if (decision.kind === "none") return undefined;
    if (decision.kind === "reuse") return decision.manifest;

    const at = address(plan);
    if (!plan.db || !at) throw new TakeoverRefused(`legacy db ${plan.db?.name ?? "?"} has no network address to dump from; nothing was changed`);
    const db = plan.db;
    return writeBackup({
        dir: ctx.backupDir,
        project: plan.project,
        reason: "takeover",
        container: db.name,
        user: at.user,
        database: at.db,
        now: ctx.now,
        log: ctx.log,
        // A legacy host is dumped from a throwaway container over its network, with no session to hold
        // a snapshot open for live counts: the dump is checked for completeness only.
        dump: async (outFile) => {
            await ctx.host.dump(ctx.inputs.postgresImage, at, ctx.password, outFile);
            return undefined;
        },
    });
}

export interface TakeoverOutcome {
    noop: boolean;
    removed: string[];
}

export async function takeover(ctx: StepContext): Promise<TakeoverOutcome> {
    const plan = await currentPlan(ctx);
    const decision = decideTakeover(plan, latest(ctx));
    if (decision.kind === "refuse") {
        for (const line of renderPlan(plan)) ctx.log(line);
        throw new TakeoverRefused(decision.message);
    }
    if (decision.kind === "noop") {
        ctx.log(`takeover: ${decision.message}`);
        return { noop: true, removed: [] };
    }
    if (decision.backup) ctx.log(`takeover: backup in place: ${decision.backup.file} (${renderRowCounts(decision.backup.rowCounts)})`);
    const removed: string[] = [];
    for (const a of plan.actions) {
        ctx.log(`takeover: stopping ${a.name} (${a.role}, up to ${a.stopSeconds} s)`);
        // Postgres: SIGINT is a fast shutdown (clients cut, checkpoint written), whatever the container was given.
        const stopped = await ctx.host.stop(a.name, a.stopSeconds, a.role === "db" ? "SIGINT" : undefined);
        if (stopped === "gone") {
            ctx.log(`takeover: ${a.name} is already gone`);
            continue;
        }
        ctx.log(`takeover: removing ${a.name} (its volumes are kept)`);
        await ctx.host.remove(a.name);
        removed.push(a.name);
        if (a.role === "db") await waitReleased(ctx, a.name);
    }
    // A db removed by an interrupted run: still make sure nothing runs on the volume.
    if (!plan.actions.some((a) => a.role === "db")) await waitReleased(ctx, undefined);
    if (!(await ctx.host.volumeExists(ctx.inputs.dataVolume)) && plan.actions.some((a) => a.role === "db")) {
        throw new Error(`volume ${ctx.inputs.dataVolume} is missing after the takeover: this must never happen; restore the backup (docs/takeover.md)`);
    }
    const left = (await ctx.host.projectContainers(ctx.inputs.project)).map((c) => c.name);
    if (left.length > 0) throw new Error(`legacy containers still present after the takeover: ${left.join(", ")}; run the takeover again`);
    ctx.log(`takeover: done; removed ${removed.length > 0 ? removed.join(", ") : "nothing new"}; volume ${ctx.inputs.dataVolume} kept for the platform's db`);
    return { noop: false, removed };
}

/** Waits until the legacy db container is gone and no running container mounts the data volume. */
async function waitReleased(ctx: StepContext, dbName: string | undefined): Promise<void> {
    const deadline = Date.now() + (ctx.releaseTimeoutMs ?? 120_000);
    for (;;) {
        const dbLeft = dbName !== undefined && (await ctx.host.exists(dbName));
        const live = await ctx.host.liveOnVolume(ctx.inputs.dataVolume);
        if (!dbLeft && live.length === 0) {
            ctx.log(`takeover: volume ${ctx.inputs.dataVolume} is free: no container runs on it`);
            return;
        }
        if (Date.now() > deadline) {
            throw new Error(
                `volume ${ctx.inputs.dataVolume} is still in use (${[...(dbLeft && dbName ? [dbName] : []), ...live].join(", ")}): the platform's db must not start next to another server; stop it and run the takeover again`,
            );
        }
        await ctx.host.sleep(500);
    }
}

