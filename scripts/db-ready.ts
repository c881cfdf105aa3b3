/**
 * Run by the db's health gate (components/dbReady.ts): waits until the db container is healthy,
 * or exits 1 naming the db, what it did, its health output and its last log lines, and the fix.
 */
import { waitUntilHealthy } from "../lib/health/gate";
import { dockerContainerReader } from "../lib/health/dockerContainers";
import { requireEnv } from "./env";

async function main(): Promise<void> {
    const container = requireEnv("CARTIE_DB_CONTAINER", "cartie:platform:DbReady");
    const timeoutSeconds = Number(requireEnv("CARTIE_DB_READY_TIMEOUT", "cartie:platform:DbReady"));
    const started = Date.now();
    const failure = await waitUntilHealthy(dockerContainerReader(), container, "db", timeoutSeconds * 1000);
    if (failure) {
        console.error(
            `the database is not healthy, so nothing that needs it runs (migration, password step, api):\n${failure}\n` +
                "fix: look at the health output and the logs above (`npm run doctor` explains them); if a config change caused it " +
                "(cartie:postgresImage, cartie:pgdataSubdir, cartie:dbUser), set it back and run `pulumi up`: the db container is replaced on the same data volume",
        );
        process.exit(1);
    }
    console.log(`db-ready: ${container} is healthy (${Date.now() - started} ms)`);
}

main().catch((err: Error) => {
    console.error(`db-ready: ${err.message}`);
    process.exit(1);
});
