/**
 * `npm run doctor`: diagnose a broken Cartie host before restoring it. Read-only.
 * Exit 0 healthy, 1 unhealthy, 2 bad input (no daemon, wrong DOCKER_HOST, no such stack).
 */
import { main } from "../lib/doctor/cli";

void main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
});
