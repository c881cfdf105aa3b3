import * as pulumi from "@pulumi/pulumi";
import { platformProgram } from "../components/program";
import { makeProjectDir, runProgram, validStackConfig, TEST_DAEMON } from "../test/support/mockRuntime";

/**
 * The whole program under Pulumi's mock runtime, in a fresh process, against the synthetic
 * monorepo: prints the time from the program's start to the last resource registration, and the
 * time to import the program's modules. Usage: tsx bench/program.ts <monorepo>
 * (the digest cache is what CARTIE_DIGEST_CACHE_DIR points at; cold = an empty one).
 */
interface Monitor {
    registerResource(req: unknown, cb: (err: unknown, res: unknown) => void): Promise<void>;
}

async function main(): Promise<void> {
    const monorepo = process.argv[2];
    const importMs = performance.now();
    const dir = makeProjectDir();
    let last = 0;
    let count = 0;
    const t0 = performance.now();
    await runProgram(
        () => {
            // runProgram has wrapped the monitor by now; wrap it once more to time each registration.
            const monitor = pulumi.runtime.getMonitor() as unknown as Monitor;
            const inner = monitor.registerResource.bind(monitor);
            monitor.registerResource = (req, cb) =>
                inner(req, (err, res) => {
                    last = performance.now();
                    count++;
                    cb(err, res);
                });
            return { ...platformProgram(dir, { daemon: TEST_DAEMON }) };
        },
        { config: validStackConfig({ "cartie:appRoot": monorepo }) },
    );
    process.stdout.write(`${JSON.stringify({ ms: last - t0, resources: count, importMs })}\n`);
}

void main();
