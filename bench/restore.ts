/**
 * The restore on the real engine, phase by phase, beside its floor (part of `npm run bench`; alone:
 * `npm run bench -- --restore-only [--runs N]`). Needs Docker, the local base images of
 * test/real/support/base-images.sh and the Pulumi CLI on PATH; without them it says so and stops.
 *
 * A stack of the program is restored (`pulumi up`), then, per run: a no-change `pulumi up`, and a
 * restore from no containers (`pulumi destroy --exclude-protected`, then `pulumi up` on the kept
 * data volume, as after an incident). Phases come from the engine's events (when each step started
 * and reported) and Docker's (when each container started and became healthy):
 *   refresh+program  the CLI, the language host, the refresh, until the first step starts
 *   build            the two image steps (the layer cache is warm after the first run)
 *   db healthy       the db container's start → healthy (its first probe: the healthcheck interval)
 *   migration        the migration step (Prisma's CLI in a container; a no-op plan here)
 *   gate             the Release step's start → the new containers healthy (their first probes)
 *   switch           healthy → the live config loaded (the smoke check and two Caddy reloads)
 *   verification     the verification step
 * The floor is what the containers take themselves on the critical path: the db's start → healthy,
 * plus the migration, plus the api's start → healthy. For a no-change update the floor is the
 * program's own evaluation (mock runtime, warm) plus one `docker inspect` of every container.
 */
import { spawn } from "node:child_process";
import * as path from "node:path";
import Docker from "dockerode";
import { EngineRun, EngineStack } from "../test/real/support/engineStack";
import { Cleanup, docker } from "../test/real/support/run";

interface ContainerTimes {
    start?: number;
    healthy?: number;
}

/** Docker's events for one stack's containers while `fn` runs: start and first healthy, per container name. */
async function withDockerEvents<T>(stack: string, fn: () => Promise<T>): Promise<{ result: T; times: Map<string, ContainerTimes> }> {
    const times = new Map<string, ContainerTimes>();
    const child = spawn("docker", ["events", "--format", "{{json .}}", "--filter", "type=container", "--filter", `label=io.cartie.platform.stack=${stack}`]);
    let buffer = "";
    child.stdout.on("data", (d: Buffer) => {
        buffer += d.toString();
        const lines = buffer.split("\n");
        buffer = lines.pop() ?? "";
        for (const line of lines) {
            const e = JSON.parse(line) as { status?: string; Actor?: { Attributes?: { name?: string } }; timeNano?: number };
            const name = e.Actor?.Attributes?.name;
            if (!name || !e.timeNano) continue;
            const t = times.get(name) ?? {};
            const ms = e.timeNano / 1e6;
            if (e.status === "start") Object.assign(t, { start: ms, healthy: undefined });
            if (e.status === "health_status: healthy" && t.healthy === undefined) t.healthy = ms;
            times.set(name, t);
        }
    });
    // `docker events` starts streaming once connected; give it a moment so no early event is missed.
    await new Promise((r) => setTimeout(r, 500));
    try {
        const result = await fn();
        await new Promise((r) => setTimeout(r, 500));
        return { result, times };
    } finally {
        child.kill();
    }
}

interface Phases {
    total: number;
    refreshProgram: number;
    build?: number;
    dbHealthy?: number;
    migration?: number;
    gate?: number;
    switch?: number;
    verification?: number;
    floor?: number;
}

const stepMs = (run: EngineRun, name: string, type?: string): number | undefined => {
    const steps = run.steps.filter((s) => s.name === name && (!type || s.type === type) && !["same", "refresh"].includes(s.op) && s.endedAt !== undefined);
    if (steps.length === 0) return undefined;
    return Math.max(...steps.map((s) => s.endedAt ?? 0)) - Math.min(...steps.map((s) => s.startedAt));
};

function phasesOf(s: EngineStack, run: EngineRun, times: Map<string, ContainerTimes>, release: { healthyAt?: number; switchedAt?: number }): Phases {
    const firstStep = Math.min(...run.steps.filter((x) => !["same", "refresh"].includes(x.op) && !x.type.startsWith("pulumi:") && !x.type.startsWith("cartie:")).map((x) => x.startedAt), Date.now());
    const builds = run.steps.filter((x) => x.type === "docker:index/image:Image" && x.endedAt !== undefined && x.op !== "same");
    const build = builds.length > 0 ? Math.max(...builds.map((b) => b.endedAt ?? 0)) - Math.min(...builds.map((b) => b.startedAt)) : undefined;
    const db = times.get(`${s.prefix}-db`);
    const dbHealthy = db?.start !== undefined && db.healthy !== undefined ? db.healthy - db.start : undefined;
    const releaseStep = run.steps.find((x) => x.name === "release" && x.type === "command:local:Command" && !["same", "refresh"].includes(x.op));
    const apiTimes = [...times].find(([n]) => n.startsWith(`${s.prefix}-api-`))?.[1];
    const apiHealthy = apiTimes?.start !== undefined && apiTimes.healthy !== undefined ? apiTimes.healthy - apiTimes.start : undefined;
    const migration = stepMs(run, "migration", "command:local:Command");
    return {
        total: run.ms,
        refreshProgram: firstStep - run.startedAt,
        build,
        dbHealthy,
        migration,
        gate: releaseStep && release.healthyAt ? release.healthyAt - releaseStep.startedAt : undefined,
        switch: release.healthyAt && release.switchedAt ? release.switchedAt - release.healthyAt : undefined,
        verification: stepMs(run, "verification", "command:local:Command"),
        floor: dbHealthy !== undefined && migration !== undefined && apiHealthy !== undefined ? dbHealthy + migration + apiHealthy : undefined,
    };
}

/** The floor of a no-change update: the program evaluated (mock runtime, a warm second run) plus one inspect of every container. */
async function noChangeFloor(s: EngineStack): Promise<number> {
    const evaluate = (): Promise<number> =>
        new Promise((resolve, reject) => {
            // bench/program.ts: the program under the mock runtime against the stack's own copy of the sample.
            const child = spawn(path.join(__dirname, "..", "node_modules", ".bin", "tsx"), [path.join(__dirname, "program.ts"), path.join(s.projectDir, "examples/cartie")], { stdio: ["ignore", "pipe", "inherit"] });
            let out = "";
            child.stdout.on("data", (d: Buffer) => (out += d.toString()));
            child.on("close", (code) => (code === 0 ? resolve((JSON.parse(out.trim().split("\n").pop() ?? "{}") as { ms: number }).ms) : reject(new Error(`program evaluation exited ${code}`))));
        });
    await evaluate();
    const program = await evaluate();
    const engine = new Docker();
    const t0 = Date.now();
    for (const name of await s.hostContainers()) await engine.getContainer(name).inspect();
    return program + (Date.now() - t0);
}

const fmt = (ms: number | undefined): string => (ms === undefined ? "–" : (ms / 1000).toFixed(1));
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];

export async function runRestoreBench(runs: number, out: (line: string) => void): Promise<void> {
    for (const [what, check] of [
        ["Docker", () => docker(["info"])],
        ["the Pulumi CLI", () => import("../test/real/support/engineStack").then((m) => m.requireEngine()).then(() => ({ code: 0 }))],
    ] as const) {
        const ok = await check().then(
            (r) => r.code === 0,
            () => false,
        );
        if (!ok) {
            out(`restore benchmark skipped: ${what} is not available here`);
            return;
        }
    }
    const cleanup = new Cleanup();
    try {
        const s = await EngineStack.create(cleanup);
        const release = async (): Promise<{ healthyAt?: number; switchedAt?: number }> => {
            const out = (await s.outputs()).release;
            return typeof out === "string" ? (JSON.parse(out) as { healthyAt?: number; switchedAt?: number }) : {};
        };
        // The first restore builds the images (from the layer cache when it is warm): reported, not counted.
        const first = await withDockerEvents(s.stack, () => s.up());
        const rows: Array<{ what: string; p: Phases }> = [{ what: "first restore (images built)", p: phasesOf(s, first.result, first.times, await release()) }];
        const restores: Phases[] = [];
        const noChange: Array<{ total: number; floor: number }> = [];
        for (let i = 1; i <= runs; i++) {
            const t0 = Date.now();
            const same = await s.up();
            if (same.changes.length > 0) throw new Error(`a no-change up changed ${same.changes.map((c) => c.name).join(", ")}`);
            noChange.push({ total: Date.now() - t0, floor: await noChangeFloor(s) });
            await s.destroy({ excludeProtected: true });
            const r = await withDockerEvents(s.stack, () => s.up());
            const p = phasesOf(s, r.result, r.times, await release());
            restores.push(p);
            rows.push({ what: `restore from no containers #${i}`, p });
        }
        out("");
        out("| run | total s | refresh+program | build | db healthy | migration | gate | switch | verification | floor s | total / floor |");
        out("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
        for (const { what, p } of rows) {
            out(`| ${what} | ${fmt(p.total)} | ${fmt(p.refreshProgram)} | ${fmt(p.build)} | ${fmt(p.dbHealthy)} | ${fmt(p.migration)} | ${fmt(p.gate)} | ${fmt(p.switch)} | ${fmt(p.verification)} | ${fmt(p.floor)} | ${p.floor ? (p.total / p.floor).toFixed(2) : "–"} |`);
        }
        const ratios = restores.filter((p) => p.floor).map((p) => p.total / (p.floor ?? 1));
        out("");
        out(`restore from no containers, median of ${runs}: ${fmt(median(restores.map((p) => p.total)))} s, floor ${fmt(median(restores.map((p) => p.floor ?? 0)))} s, ratio ${ratios.length ? median(ratios).toFixed(2) : "–"}`);
        out(`no-change pulumi up, median of ${runs}: ${fmt(median(noChange.map((n) => n.total)))} s, floor (program + one inspect per container) ${fmt(median(noChange.map((n) => n.floor)))} s, ratio ${(median(noChange.map((n) => n.total / n.floor))).toFixed(1)}`);
    } finally {
        await cleanup.run();
    }
}
