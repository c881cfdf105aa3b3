/**
 * `npm run bench:switch [-- --releases 5]` (as root, with Docker, the local base images of
 * test/real/support/base-images.sh and the Pulumi CLI on PATH): a real stack restored with
 * `pulumi up`, then N good api releases (`pulumi up` after a change in the api's folder) under the
 * deploy tests' load loop. For each: the new api container healthy (the release's gate passing) →
 * the first request it served through the proxy, and the gate → the live config loaded; with the
 * requests sent and failed during the release.
 */
import { EngineStack } from "../test/real/support/engineStack";
import { LoadLoop } from "../test/real/support/load";
import { Cleanup, sleep } from "../test/real/support/run";

function parseReleases(argv: string[]): number {
    if (argv.length === 0) return 5;
    if (argv.length === 2 && argv[0] === "--releases" && /^\d+$/.test(argv[1]) && Number(argv[1]) > 0) return Number(argv[1]);
    process.stderr.write("usage: npm run bench:switch [-- --releases N]\n");
    process.exit(2);
}

const stats = (xs: number[]): string => {
    const s = [...xs].sort((a, b) => a - b);
    return `${s[0]} / ${s[Math.floor((s.length - 1) / 2)]} / ${s[s.length - 1]}`;
};

async function main(): Promise<void> {
    const releases = parseReleases(process.argv.slice(2));
    const cleanup = new Cleanup();
    try {
        const d = await EngineStack.create(cleanup);
        d.bumpApi("r0");
        await d.up();
        const served: number[] = [];
        const loaded: number[] = [];
        let requests = 0;
        let failed = 0;
        for (let i = 1; i <= releases; i++) {
            d.bumpApi(`r${i}`);
            const load = new LoadLoop({ baseUrl: d.baseUrl, clients: 4 });
            load.start();
            await sleep(500);
            await d.up();
            const outputs = await d.outputs();
            const summary = JSON.parse(String(outputs.release)) as { healthyAt?: number; switchedAt?: number };
            const tag = String(outputs.apiImage).split(":")[1];
            await sleep(500);
            const report = await load.stop();
            const first = report.samples.filter((s) => s.release === tag).sort((a, b) => a.endedAt - b.endedAt)[0];
            if (!first || summary.healthyAt === undefined || summary.switchedAt === undefined) throw new Error(`release r${i}: no request reached the new api`);
            served.push(first.endedAt - summary.healthyAt);
            loaded.push(summary.switchedAt - summary.healthyAt);
            requests += report.requests;
            failed += report.failures + report.non2xx;
            process.stdout.write(`release r${i}: healthy → first served ${served[served.length - 1]} ms; gate → switch loaded ${loaded[loaded.length - 1]} ms; ${report.summary()}\n`);
        }
        process.stdout.write(
            `\n| releases | new api healthy → first request it served, ms (min / median / max) | gate → live config loaded, ms | requests | failed or non-2xx |\n| ---: | ---: | ---: | ---: | ---: |\n| ${releases} | ${stats(served)} | ${stats(loaded)} | ${requests} | ${failed} |\n`,
        );
    } finally {
        await cleanup.run();
    }
}

main().catch((err: Error) => {
    process.stderr.write(`bench:switch: ${err.message}\n`);
    process.exit(1);
});
