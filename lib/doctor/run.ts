/** Reads the live host (never writes) and diagnoses it. */
import * as path from "node:path";
import { DEFAULTS } from "../config";
import { HEALTH_PATH } from "../env";
import { BACKUP_DEFAULTS } from "../backup/settings";
import { readBackupStatus, withBackupStatus } from "./backups";
import { ProxyCertificates, withCertificates } from "./certificates";
import { readProxyCertificates } from "./certificateReader";
import { diagnose } from "./classify";
import { apiLikeComposeContainers, discover } from "./discover";
import { connectDocker, dockerEndpoint, envValue, listHost, probeProxy, readContainer, readDb, readWebBundle, runsPrisma } from "./dockerReader";
import { withDrift } from "./drift";
import { inspectDrift, sourceOf } from "../drift/host";
import { DB_NAME, DB_USER } from "../env";
import { DoctorInputError } from "./errors";
import { computeExpected, loadDoctorConfig } from "./source";
import { ContainerFacts, DbFacts, DoctorReport, ProbeResult, WebBundleFacts } from "./types";

export interface DoctorOptions {
    projectDir: string;
    stack: string;
    /** Legacy compose project to look at (else `cartie:legacyComposeProject`, else the one found on the host). */
    legacy?: string;
    /** `cartie:key=value` overrides of the stack config. */
    overrides: Record<string, string>;
    /** Log lines read per container. */
    tail: number;
    /** Only the stack's containers (and --legacy's or the config's project): no look at the rest of the host. */
    onlyStack?: boolean;
    /** Skip the database inspection. */
    noDb?: boolean;
    /** Skip both schema drift checks (lib/drift). */
    noDrift?: boolean;
}

export async function runDoctor(o: DoctorOptions): Promise<DoctorReport> {
    const conf = loadDoctorConfig(path.resolve(o.projectDir), o.stack, o.overrides);
    const docker = await connectDocker();
    const host = await listHost(docker);
    const prismaFlags = await Promise.all(apiLikeComposeContainers(o.onlyStack ? [] : host).map(async (c) => ((await runsPrisma(docker, c.id)) ? c.id : undefined)));
    const port = conf.cfg?.publicPort ?? DEFAULTS.publicPort;
    const found = discover({
        containers: host,
        project: conf.project,
        stack: o.stack,
        port,
        legacyFlag: o.legacy,
        legacyConfig: conf.cfg?.legacyComposeProject,
        onlyNamed: o.onlyStack,
        prismaContainers: new Set(prismaFlags.filter((id): id is string => id !== undefined)),
    });
    const legacy = found.legacyProject;
    const located = found.located;
    if (!conf.stackFileExists && located.length === 0 && found.candidates.length === 0) {
        throw new DoctorInputError(
            `no such stack "${o.stack}": no Pulumi.${o.stack}.yaml in ${path.resolve(o.projectDir)} and no container labelled io.cartie.platform.stack=${o.stack}${legacy ? ` or in compose project "${legacy}"` : ""}`,
        );
    }
    const { expected, notes } = await computeExpected(conf.cfg, conf.cfg?.migrationBaseline ?? DEFAULTS.migrationBaseline);

    const containers: ContainerFacts[] = [];
    let db: DbFacts | undefined;
    let webBundle: WebBundleFacts | undefined;
    const probes: ProbeResult[] = [];
    const read = await Promise.all(located.map((l) => readContainer(docker, l, o.tail, conf.secrets)));
    // A stack container wins over a legacy one of the same role for the deeper checks.
    const pick = (role: string): (typeof read)[number] | undefined =>
        read.find((r) => r.facts.role === role && r.facts.origin === "stack" && r.facts.state === "running") ??
        read.find((r) => r.facts.role === role && r.facts.state === "running") ??
        read.find((r) => r.facts.role === role);
    for (const r of read) containers.push(r.facts);

    const dbC = pick("db");
    const webC = pick("web");
    const proxies = read.filter((r) => r.facts.role === "proxy");
    const now = new Date();
    const certificates: ProxyCertificates[] = [];
    await Promise.all([
        // Only the stack's own proxy (found by its labels) says which names it serves and how.
        ...proxies
            .filter((p) => p.facts.origin === "stack")
            .map(async (p) => {
                const certs = await readProxyCertificates(docker, p.facts.name, p.info, now);
                if (certs) certificates.push(certs);
            }),
        (async () => {
            if (dbC && !o.noDb) db = await readDb(dbC.facts.name, dbC.info);
        })(),
        (async () => {
            if (webC && webC.facts.state === "running") webBundle = await readWebBundle(docker, webC.facts, expected.apiBaseUrl);
        })(),
        ...proxies.map(async (p) => {
            probes.push(...(await probeProxy(p.facts.name, p.info, HEALTH_PATH)));
        }),
    ]);
    if (o.noDb) notes.push("database not inspected (--no-db)");

    const discovery = { legacySource: found.legacySource, candidates: found.candidates, otherStacks: found.otherStacks, hostContainers: found.hostContainers, port, endpoint: dockerEndpoint() };
    const report = diagnose({ stack: o.stack, legacyProject: legacy, discovery, containers, expected, db, webBundle, probes, configProblems: conf.problems, notes });
    const backupDir = path.resolve(o.projectDir, conf.cfg?.backup.dir ?? BACKUP_DEFAULTS.dir);
    let full = withBackupStatus(withCertificates(report, certificates, now), readBackupStatus(backupDir, [conf.cfg?.namePrefix ?? `cartie-${o.stack}`, ...(legacy ? [legacy] : [])]));
    if (conf.cfg && !o.noDrift) {
        // Both drift checks (lib/drift) on the database read above, Prisma through `docker exec` in a running api: no container is started.
        const env = dbC?.info.Config.Env ?? [];
        const user = envValue(env, "POSTGRES_USER") || DB_USER;
        const liveDb = dbC && db?.state && !db.error ? { container: dbC.facts.name, user, database: envValue(env, "POSTGRES_DB") || envValue(env, "POSTGRES_USER") || DB_NAME } : o.noDb ? "database not inspected (--no-db)" : (db?.error ?? "no running db container");
        const api = pick("api");
        const running = api && api.facts.state === "running" ? api.facts.name : undefined;
        const drift = await inspectDrift(sourceOf(conf.cfg, path.resolve(o.projectDir), o.stack, conf.project), { db: liveDb, model: { exec: running } });
        full = withDrift(full, drift.report);
    }
    return full;
}
