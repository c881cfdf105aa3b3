/** Command line of `npm run doctor`: parsing, running, exit codes (0 healthy, 1 unhealthy, 2 bad input). */
import { DoctorInputError } from "./errors";
import { renderJson, renderText } from "./render";
import { DoctorOptions, runDoctor } from "./run";

export const USAGE = `usage: npm run doctor -- [--stack NAME] [--legacy COMPOSE_PROJECT] [-c cartie:key=value]... [--json] [--tail N] [--logs N] [--no-db] [--cwd DIR]
  Reads the Docker host (DOCKER_HOST is honoured) and says what is wrong and what \`pulumi up\` does about it.
  Never changes anything. Exit 0 healthy, 1 unhealthy, 2 bad input.`;

export interface CliArgs extends DoctorOptions {
    json: boolean;
    logLines: number;
    help: boolean;
}

export function parseArgs(argv: string[], env: NodeJS.ProcessEnv = process.env): CliArgs {
    const args: CliArgs = { projectDir: process.cwd(), stack: env.PULUMI_STACK || "dev", overrides: {}, tail: 50, json: false, logLines: 5, help: false };
    const value = (i: number, flag: string): string => {
        const v = argv[i + 1];
        if (v === undefined || v.startsWith("--")) throw new DoctorInputError(`${flag} needs a value`);
        return v;
    };
    const count = (v: string, flag: string): number => {
        const n = Number(v);
        if (!Number.isInteger(n) || n < 0 || n > 10000) throw new DoctorInputError(`${flag} must be a whole number from 0 to 10000, not "${v}"`);
        return n;
    };
    for (let i = 0; i < argv.length; i++) {
        const a = argv[i];
        const [flag, inline] = a.startsWith("--") && a.includes("=") ? [a.slice(0, a.indexOf("=")), a.slice(a.indexOf("=") + 1)] : [a, undefined];
        const take = (): string => inline ?? value(i++, flag);
        switch (flag) {
            case "--json":
                args.json = true;
                break;
            case "--no-db":
                args.noDb = true;
                break;
            case "-h":
            case "--help":
                args.help = true;
                break;
            case "-s":
            case "--stack":
                args.stack = take();
                break;
            case "--legacy":
                args.legacy = take();
                break;
            case "--cwd":
                args.projectDir = take();
                break;
            case "--tail":
                args.tail = Math.max(1, count(take(), flag));
                break;
            case "--logs":
                args.logLines = count(take(), flag);
                break;
            case "-c":
            case "--config": {
                const kv = take();
                const eq = kv.indexOf("=");
                if (eq <= 0) throw new DoctorInputError(`${flag} takes cartie:key=value, not "${kv}"`);
                args.overrides[kv.slice(0, eq)] = kv.slice(eq + 1);
                break;
            }
            default:
                throw new DoctorInputError(`unknown argument "${a}"\n${USAGE}`);
        }
    }
    if (!/^[A-Za-z0-9_.-]+$/.test(args.stack)) throw new DoctorInputError(`"${args.stack}" is not a stack name`);
    return args;
}

/** Runs the doctor; returns the exit code. Output goes through the given writers. */
export async function main(argv: string[], out: (s: string) => void = (s) => process.stdout.write(s), err: (s: string) => void = (s) => process.stderr.write(s)): Promise<number> {
    let args: CliArgs;
    try {
        args = parseArgs(argv);
        if (args.help) {
            out(`${USAGE}\n`);
            return 0;
        }
        const report = await runDoctor(args);
        out(`${args.json ? renderJson(report) : renderText(report, { logLines: args.logLines })}\n`);
        return report.healthy ? 0 : 1;
    } catch (e) {
        if (e instanceof DoctorInputError) {
            err(`doctor: ${e.message}\n`);
            return 2;
        }
        err(`doctor: internal error: ${(e as Error).message?.split("\n")[0] ?? String(e)}\n`);
        return 2;
    }
}
