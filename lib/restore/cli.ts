/**
 * Finding the Pulumi CLI for `npm run restore`: the one on PATH; else one in Pulumi's usual homes;
 * else, when the internet answers, installing the version of the project's @pulumi/pulumi SDK with
 * the Automation API (`PulumiCommand.install`, which runs get.pulumi.com's installer); else one line
 * saying how to get it. Nothing here downloads anything unless the CLI is missing.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

export type CliChoice = { kind: "found"; command: string; where: string } | { kind: "install"; version: string; root: string } | { kind: "missing"; message: string };

/** Where Pulumi's installers put the CLI: `$PULUMI_HOME/bin` (default ~/.pulumi/bin) and the Automation API's ~/.pulumi/versions/<v>/bin. */
export function cliCandidates(version: string, env: NodeJS.ProcessEnv = process.env, home: string = os.homedir()): string[] {
    const pulumiHome = env.PULUMI_HOME || path.join(home, ".pulumi");
    return [path.join(pulumiHome, "bin", "pulumi"), path.join(home, ".pulumi", "versions", version, "bin", "pulumi")];
}

/** The first executable `name` on PATH, or undefined. */
export function onPath(name: string, pathVar: string = process.env.PATH ?? ""): string | undefined {
    for (const dir of pathVar.split(path.delimiter).filter(Boolean)) {
        const p = path.join(dir, name);
        try {
            fs.accessSync(p, fs.constants.X_OK);
            if (fs.statSync(p).isFile()) return p;
        } catch {
            // not here
        }
    }
    return undefined;
}

export function chooseCli(version: string, opts: { pathVar?: string; env?: NodeJS.ProcessEnv; home?: string; online: boolean; exists?: (p: string) => boolean }): CliChoice {
    const exists = opts.exists ?? ((p: string) => fs.existsSync(p));
    const found = onPath("pulumi", opts.pathVar);
    if (found) return { kind: "found", command: found, where: "on PATH" };
    for (const c of cliCandidates(version, opts.env, opts.home)) if (exists(c)) return { kind: "found", command: c, where: `in ${path.dirname(path.dirname(c))}` };
    const home = opts.home ?? os.homedir();
    if (opts.online) return { kind: "install", version, root: path.join(home, ".pulumi", "versions", version) };
    return {
        kind: "missing",
        message:
            `no Pulumi CLI on PATH and get.pulumi.com does not answer: install Pulumi v${version} (https://www.pulumi.com/docs/install/), ` +
            `or put an offline copy's folder first on PATH (or its pulumi in $PULUMI_HOME/bin), then run \`npm run restore\` again`,
    };
}

/** Whether Pulumi's installer host answers within `timeoutMs` (any HTTP answer counts). */
export async function installerReachable(timeoutMs = 3000, url = "https://get.pulumi.com/"): Promise<boolean> {
    try {
        await fetch(url, { method: "HEAD", signal: AbortSignal.timeout(timeoutMs) });
        return true;
    } catch {
        return false;
    }
}
