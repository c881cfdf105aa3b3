import { strict as assert } from "node:assert";
import { spawn } from "node:child_process";
import { isRunning, listProcesses, processStart, startTicks } from "../../../lib/restore/procfs";

describe("restore: process facts from /proc", () => {
    it("a running process has a start time close to now and is running", () => {
        const started = processStart(process.pid);
        assert.ok(started, "no start time for this process");
        assert.ok(Math.abs(Date.now() - started.getTime()) < 10 * 60_000, started.toISOString());
        assert.equal(isRunning(process.pid), true);
        assert.ok(listProcesses().some((p) => p.pid === process.pid && p.command.includes("node")));
    });

    it("a zombie (exited, never reaped) is not running: a stale lock or a leftover is judged gone even where PID 1 never reaps orphans", async function () {
        // `sleep 0.2` exits while its parent (bash exec'd into `sleep 5`) never waits for it: a zombie for 5 s.
        const parent = spawn("bash", ["-c", "sleep 0.2 & echo $!; exec sleep 5"], { stdio: ["ignore", "pipe", "ignore"] });
        try {
            const pid = await new Promise<number>((resolve) => parent.stdout.once("data", (d: Buffer) => resolve(Number(d.toString().trim()))));
            assert.equal(isRunning(pid), true, "the child should run at first");
            await new Promise((r) => setTimeout(r, 800));
            assert.ok(process.kill(pid, 0), "the test needs a zombie: kill(pid, 0) still succeeds on one");
            assert.equal(startTicks(pid), undefined);
            assert.equal(processStart(pid), undefined);
            assert.equal(isRunning(pid), false);
        } finally {
            parent.kill("SIGKILL");
        }
    });

    it("a pid that does not exist is not running", () => {
        assert.equal(isRunning(2 ** 22 + 17), false);
    });
});
