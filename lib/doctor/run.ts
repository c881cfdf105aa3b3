/** Reads the live host (never writes) and diagnoses it. */
import * as path from "node:path";
import { DEFAULTS } from "../config";
import { HEALTH_PATH } from "../env";
import { BACKUP_DEFAULTS } from "../backup/settings";
import { readBackupStatus, withBackupStatus } from "./backups";
import { diagnose } from "./classify";
import { connectDocker, locateContainers, probeProxy, readContainer, readDb, readWebBundle } from "./dockerReader";
import { DoctorInputError } from "./errors";
import { computeExpected, loadDoctorConfig } from "./source";
import { ContainerFacts, DbFacts, DoctorReport, ProbeResult, WebBundleFacts } from "./types";

export interface DoctorOptions {
    projectDir: string;
    stack: string;
    /** Legacy compose project to look at (else `cartie:legacyComposeProject`). */
    legacy?: string;
    /** `cartie:key=value` overrides of the stack config. */
    overrides: Record<string, string>;
    /** Log lines read per container. */
    tail: number;
    /** Skip the database inspection. */
    noDb?: boolean;
}

export async function runDoctor(o: DoctorOptions): Promise<DoctorReport> {
    const conf = loadDoctorConfig(path.resolve(o.projectDir), o.stack, o.overrides);
    const legacy = o.legacy ?? conf.cfg?.legacyComposeProject;
    const docker = await connectDocker();
    const located = await locateContainers(docker, conf.project, o.stack, legacy);
    if (!conf.stackFileExists && located.length === 0) {
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
    await Promise.all([
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

    const report = diagnose({ stack: o.stack, legacyProject: legacy, containers, expected, db, webBundle, probes, configProblems: conf.problems, notes });
    const backupDir = path.resolve(o.projectDir, conf.cfg?.backup.dir ?? BACKUP_DEFAULTS.dir);
    return withBackupStatus(report, readBackupStatus(backupDir, [conf.cfg?.namePrefix ?? `cartie-${o.stack}`, ...(legacy ? [legacy] : [])]));
}
