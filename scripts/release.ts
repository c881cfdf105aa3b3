/**
 * Run by the Release command resource after the new api and web containers exist: gate, smoke
 * check through the proxy, switch, drain and retire (lib/release/release.ts). `--retire-leftovers`
 * is its delete command: containers that no route names are stopped gracefully, never a live one.
 * (`--retire-all` is what states written before that change still name as the delete command; it
 * means the same now, so replacing such a Release cannot stop the serving containers either.)
 * Prints the summary as JSON on the last line; fails with the reason and nothing switched.
 */
import { ReleaseError, retireLeftovers, runRelease } from "../lib/release/release";
import { dockerReleaseHost } from "../lib/release/dockerHost";
import { parseReleaseSpec } from "../lib/release/spec";

async function main(): Promise<void> {
    const spec = parseReleaseSpec(process.env.CARTIE_RELEASE_SPEC);
    const host = dockerReleaseHost((line) => process.stderr.write(`release: ${line}\n`));
    if (process.argv.includes("--retire-leftovers") || process.argv.includes("--retire-all")) {
        const retired = await retireLeftovers(host, spec);
        console.log(JSON.stringify({ retired }));
        return;
    }
    const caddyfile = process.env.CARTIE_CADDYFILE;
    if (!caddyfile) throw new Error("CARTIE_CADDYFILE is empty (it is set by the cartie:platform:Release resource)");
    console.log(JSON.stringify(await runRelease(host, spec, caddyfile)));
}

main().catch((err: Error) => {
    process.stderr.write(`${err instanceof ReleaseError ? err.message : `release failed: ${err.message}`}\n`);
    process.exit(1);
});
