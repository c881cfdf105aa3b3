/** `npm run backups`: see lib/backup/cli.ts. Exit 0 ok, 1 failure, 2 bad input. */
import { main } from "../lib/backup/cli";

void main("backups", process.argv.slice(2)).then((code) => {
    process.exitCode = code;
});
