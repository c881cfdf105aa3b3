/** `npm run drift`: see lib/drift/cli.ts. Exit 0 clean, 1 drift found, 2 bad input or not checked. */
import { main } from "../lib/drift/cli";

void main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
});
