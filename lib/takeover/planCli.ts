/**
 * `npm run takeover:plan -- <compose project> [--store-password] [--stack NAME]`: reads the legacy
 * project on this host and prints the exact `pulumi config set` lines that take it over. Read-only,
 * except that `--store-password` stores the legacy db's password as the stack secret
 * `cartie:postgresPassword` through the Pulumi CLI, the value on its stdin: never in argv, never printed.
 * Exit 0: the lines are complete and pass the preflight; 1: the project can't be taken over as it
 * is (the reasons and fixes are printed) or storing failed; 2: bad input.
 */
import { parseArgs } from "node:util";
import { DEFAULTS } from "../config";
import { maskSecrets } from "../env";
import { configSetLines, locateLegacyData, proposeConfig, proposedInputs } from "./configPlan";
import { TakeoverHost } from "./host";
import { parseServerMajor, planTakeover } from "./plan";
import { gatherFacts } from "./steps";
import { COMPOSE_PROJECT_LABEL, HostFacts } from "./types";

export const USAGE = "usage: npm run takeover:plan -- <compose project> [--store-password] [--stack NAME]";

/** Runs the Pulumi CLI with `args`, writing `stdin` to it; `stack` selects the stack. */
export type PulumiRunner = (args: string[], stdin: string, stack?: string) => Promise<{ code: number; stdout: string; stderr: string }>;

export interface PlanCliDeps {
    host: TakeoverHost;
    pulumi: PulumiRunner;
    out: (line: string) => void;
    err: (line: string) => void;
}

export const PASSWORD_KEY = "cartie:postgresPassword";

export async function takeoverPlanMain(argv: string[], deps: PlanCliDeps): Promise<number> {
    let project: string;
    let store: boolean;
    let stack: string | undefined;
    try {
        const { values, positionals } = parseArgs({
            args: argv,
            strict: true,
            allowPositionals: true,
            options: { "store-password": { type: "boolean" }, stack: { type: "string", short: "s" }, help: { type: "boolean", short: "h" } },
        });
        if (values.help) {
            deps.out(USAGE);
            return 0;
        }
        if (positionals.length !== 1 || !/^[a-z0-9][a-z0-9_-]*$/.test(positionals[0])) {
            deps.err(`takeover:plan: ${positionals.length === 0 ? "name the compose project" : `"${positionals.join(" ")}" is not one compose project name`}\n${USAGE}`);
            return 2;
        }
        project = positionals[0];
        store = values["store-password"] === true;
        stack = values.stack;
    } catch (e) {
        deps.err(`takeover:plan: ${(e as Error).message}\n${USAGE}`);
        return 2;
    }

    try {
        return await plan(project, store, stack, deps);
    } catch (e) {
        // No daemon, no such image, …: one line, like the doctor's; the password is never in a Docker error, and lines are masked anyway.
        deps.err(`takeover:plan: ${(e as Error).message.split("\n")[0]}`);
        return 2;
    }
}

async function plan(project: string, store: boolean, stack: string | undefined, deps: PlanCliDeps): Promise<number> {
    const { host } = deps;
    const legacy = await host.projectContainers(project);
    if (legacy.length === 0) {
        deps.err(
            `takeover:plan: no container is labelled ${COMPOSE_PROJECT_LABEL}=${project}. The projects on this host: ` +
                `docker ps -a --format '{{.Label "${COMPOSE_PROJECT_LABEL}"}}' | sort -u`,
        );
        return 2;
    }
    const located = locateLegacyData(legacy, project);
    const password = located.db?.env.POSTGRES_PASSWORD;
    // Nothing below prints the password, and every line is masked all the same.
    const out = (line: string): void => deps.out(maskSecrets(line, password ? [password] : []));
    const err = (line: string): void => deps.err(maskSecrets(line, password ? [password] : []));
    const refuse = (problems: string[]): number => {
        err(`takeover:plan: compose project ${project} can't be taken over as it is; nothing was changed:`);
        for (const p of problems) err(`  - ${p}`);
        return 1;
    };
    if (!located.db || !located.location || located.problems.length > 0) return refuse(located.problems);
    const { db, location } = located;

    const volume = location.mount.name ?? location.mount.source;
    // The legacy db's own image is on the host already: look into the volume and ask its version with it.
    const probe = await host.probeVolume(db.image, volume, [location.subdir]);
    let legacyImageMajor: string | undefined;
    try {
        legacyImageMajor = parseServerMajor(await host.serverVersion(db.image));
    } catch {
        legacyImageMajor = undefined;
    }
    const proposal = proposeConfig({ project, db, location, probe, legacyImageMajor });
    if (proposal.problems.length > 0) return refuse(proposal.problems);

    // The settings must pass the preflight as they are; the password is checked only when it is to be stored.
    const inputs = proposedInputs(proposal.settings, DEFAULTS.publicPort);
    let facts: HostFacts | undefined;
    let unchecked: string | undefined;
    try {
        facts = await gatherFacts({ host, inputs, password: password ?? "", backupDir: "", log: () => undefined }, { checkPassword: store && password !== undefined });
    } catch (e) {
        // e.g. a proposed image that is not on this host yet: the preflight of `pulumi up` checks it.
        unchecked = (e as Error).message.split("\n")[0];
    }
    // With the password refused, everything else held (it is checked last): that case is answered below.
    const preflightProblems = facts && facts.passwordAccepted !== false ? planTakeover(facts).problems : [];

    out(`# compose project ${project}: legacy db ${db.name} (${db.image}, ${db.state}), data directory ${location.subdir === "" ? "at the root" : `in ${location.subdir}/`} of volume ${volume}`);
    const lines = configSetLines(proposal.settings, stack);
    proposal.settings.forEach((s, i) => {
        out(`# ${s.why}`);
        out(lines[i]);
    });
    if (unchecked) out(`# not checked against the preflight here (${unchecked}); \`pulumi up\` runs it before anything changes`);
    if (preflightProblems.length > 0) return refuse(preflightProblems.map((p) => `the preflight would refuse these settings: ${p}`));

    const stackWords = stack ? ` of stack ${stack}` : "";
    if (!store) {
        out(`# the password: the one ${db.name} uses (POSTGRES_PASSWORD of ${db.name}${password === undefined ? ", not in its environment" : ""}). Store it without printing it:`);
        out(password === undefined ? `pulumi config set --secret${stack ? ` --stack ${stack}` : ""} ${PASSWORD_KEY}   # prompted` : `#   npm run takeover:plan -- ${project} --store-password${stack ? ` --stack ${stack}` : ""}`);
        return 0;
    }
    if (password === undefined) {
        return refuse([`${db.name} has no POSTGRES_PASSWORD in its environment (a POSTGRES_PASSWORD_FILE?): nothing was stored; run \`pulumi config set --secret ${PASSWORD_KEY}\` and type the password it uses`]);
    }
    if (facts?.passwordAccepted === false) {
        return refuse([
            `${db.name} refuses the POSTGRES_PASSWORD in its own environment (changed in the database since it was initialised?): nothing was stored; ` +
                `run \`pulumi config set --secret ${PASSWORD_KEY}\` and type the password it uses`,
        ]);
    }
    const r = await deps.pulumi(["config", "set", "--secret", PASSWORD_KEY], password, stack);
    if (r.code !== 0) {
        return refuse([`\`pulumi config set --secret ${PASSWORD_KEY}\` failed (exit ${r.code}): ${`${r.stderr}${r.stdout}`.trim() || "no output"}; the password was not stored`]);
    }
    out(
        `# stored the password of ${db.name} (its POSTGRES_PASSWORD${facts?.passwordAccepted === true ? ", accepted by the running db" : ", not checked: the db is not running"}) as the secret ${PASSWORD_KEY}${stackWords}; not printed`,
    );
    return 0;
}
