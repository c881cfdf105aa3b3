/** `npm run restore-backup`: see lib/backup/cli.ts. Exit 0 ok, 1 failure, 2 bad input. */
import { main } from "../lib/backup/cli";

void main("restore-backup", process.argv.slice(2)).then((code) => {
    process.exitCode = code;
});
