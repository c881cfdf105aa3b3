import { strict as assert } from "node:assert";
import * as path from "node:path";
import { runProgram } from "./support/mockRuntime";

describe("index.ts, the program Pulumi runs", () => {
    it("declares the platform from the project directory and exports the stack outputs", async () => {
        // Pulumi runs the program with the project directory as the working directory.
        assert.equal(process.cwd(), path.resolve(__dirname, ".."));
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        const run = await runProgram(() => require("../index") as Record<string, unknown>);
        assert.deepEqual(Object.keys(run.outputs).sort(), ["apiHealthUrl", "apiImage", "migratorImage", "release", "url", "verification", "webImage"]);
        assert.equal(run.outputs.url, "http://localhost:8082");
        assert.equal(run.one("cartie:platform:CartiePlatform").name, "cartie");
        assert.match(String(run.outputs.apiImage), /^cartie-dev-api:[0-9a-f]{16}$/);
    });
});
