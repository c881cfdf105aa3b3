/**
 * `npm run bench:switch [-- --releases 5]` (as root, with Docker, the local base images of
 * test/real/support/base-images.sh and the Pulumi CLI on PATH): a real stack restored with
 * `pulumi up`, then N good api releases (`pulumi up` after a change in the api's folder) while
 * clients that never retry run through the proxy (4 on keep-alive connections, 3 on a new
 * connection per request, no pause). For each: the new api container healthy (the release's gate
 * passing) → the first request it served through the proxy, and → the moment the release step says
 * every new request goes there (`servingAt`); with the requests sent and failed during the release.
 * The reload-based switch this replaced measured 1,753 / 1,881 / 2,085 ms on the same machine
 * (README, "The switch"), printed beside the new figures.
 */
import { EngineStack } from "../test/real/support/engineStack";
import { LoadReport, neverRetryingClients } from "../test/real/support/load";
import { Cleanup, sleep } from "../test/real/support/run";

/** healthy → first request served, ms (min / median / max), by the reload-based switch (3 releases, 2 vCPU VM). */
const RELOAD_BASED = [1753, 1881, 2085];

function parseReleases(argv: string[]): number {
    if (argv.length === 0) return 5;
    if (argv.length === 2 && argv[0] === "--releases" && /^\d+$/.test(argv[1]) && Number(argv[1]) > 0) return Number(argv[1]);
    process.stderr.write("usage: npm run bench:switch [-- --releases N]\n");
    process.exit(2);
}

const sorted = (xs: number[]): number[] => [...xs].sort((a, b) => a - b);
const median = (xs: number[]): number => {
    const s = sorted(xs);
    return s.length % 2 === 1 ? s[(s.length - 1) / 2] : Math.round((s[s.length / 2 - 1] + s[s.length / 2]) / 2);
};
const stats = (xs: number[]): string => `${sorted(xs)[0]} / ${median(xs)} / ${sorted(xs)[xs.length - 1]}`;
const failedOf = (r: LoadReport): number => r.failures + r.non2xx;

async function main(): Promise<void> {
    const releases = parseReleases(process.argv.slice(2));
    const cleanup = new Cleanup();
    try {
        const d = await EngineStack.create(cleanup);
        d.bumpApi("r0");
        await d.up();
        const served: number[] = [];
        const serving: number[] = [];
        let requests = 0;
        let failed = 0;
        let seconds = 0;
        let reloads = 0;
        for (let i = 1; i <= releases; i++) {
            d.bumpApi(`r${i}`);
            const { keepAlive, fresh } = neverRetryingClients(d.baseUrl);
            const t0 = Date.now();
            keepAlive.start();
            fresh.start();
            await sleep(500);
            await d.up();
            const outputs = await d.outputs();
            const summary = JSON.parse(String(outputs.release)) as { healthyAt?: number; servingAt?: number; configReloaded?: boolean };
            const tag = String(outputs.apiImage).split(":")[1];
            await sleep(500);
            const reports = [await keepAlive.stop(), await fresh.stop()];
            seconds += (Date.now() - t0) / 1000;
            const first = reports.flatMap((r) => r.samples).filter((s) => s.release === tag).sort((a, b) => a.endedAt - b.endedAt)[0];
            if (!first || summary.healthyAt === undefined || summary.servingAt === undefined) throw new Error(`release r${i}: no request reached the new api`);
            served.push(first.endedAt - summary.healthyAt);
            serving.push(summary.servingAt - summary.healthyAt);
            if (summary.configReloaded) reloads++;
            const n = reports.reduce((sum, r) => sum + r.requests, 0);
            const f = reports.reduce((sum, r) => sum + failedOf(r), 0);
            requests += n;
            failed += f;
            process.stdout.write(`release r${i}: healthy → first served ${served[served.length - 1]} ms; healthy → every new request there ${serving[serving.length - 1]} ms; ${n} requests, ${f} failed or non-2xx (keep-alive ${failedOf(reports[0])}, new connection ${failedOf(reports[1])}); config loaded: ${summary.configReloaded ? "yes" : "no"}\n`);
        }
        process.stdout.write(
            "\n| switch | releases | new api healthy → first request it served, ms (min / median / max) | healthy → every new request to it, ms | config loads | requests (req/s) | failed or non-2xx, clients that never retry |\n" +
                "| --- | ---: | ---: | ---: | ---: | ---: | ---: |\n" +
                `| routes records (now) | ${releases} | ${stats(served)} | ${stats(serving)} | ${reloads} | ${requests} (${Math.round(requests / seconds)}) | ${failed} |\n` +
                `| Caddy config reload (before, README) | 3 | ${stats(RELOAD_BASED)} | — | 3 per release | 8,698 | 0 with a client that retries once; 2–9 per release without |\n`,
        );
    } finally {
        await cleanup.run();
    }
}

main().catch((err: Error) => {
    process.stderr.write(`bench:switch: ${err.message}\n`);
    process.exit(1);
});
