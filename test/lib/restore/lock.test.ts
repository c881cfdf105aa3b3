import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { judgeLock, parseLock, stackLocks } from "../../../lib/restore/lock";

const TAKEN = new Date("2026-12-02T00:42:32.328Z");
const lock = { file: "x.json", pid: 26755, hostname: "vm", username: "root", takenAt: TAKEN };

describe("the file backend's stack lock after an interrupted run", () => {
    it("reads the lock the CLI writes (pid, username, hostname, timestamp) from the backend's locks folder", () => {
        const backend = fs.mkdtempSync(path.join(os.tmpdir(), "cartie-lock-test-"));
        const dir = path.join(backend, ".pulumi/locks/organization/cartie-platform/dev");
        fs.mkdirSync(dir, { recursive: true });
        // Byte for byte what pulumi v3.248.0 left here after kill -9 (plus its .attrs file, which is not a lock).
        fs.writeFileSync(path.join(dir, "935e1201-d343-4674-b6f0-f7500f4df33d.json"), '{"pid":26755,"username":"root","hostname":"vm","timestamp":"2026-12-02T00:42:32.328707313Z"}');
        fs.writeFileSync(path.join(dir, "935e1201-d343-4674-b6f0-f7500f4df33d.json.attrs"), "{}");
        const [found, ...more] = stackLocks(backend, "cartie-platform", "dev");
        assert.equal(more.length, 0);
        assert.deepEqual({ pid: found.pid, hostname: found.hostname, username: found.username }, { pid: 26755, hostname: "vm", username: "root" });
        assert.equal(found.takenAt.toISOString(), "2026-12-02T00:42:32.328Z");
        assert.deepEqual(stackLocks(backend, "cartie-platform", "other"), []);
        fs.rmSync(backend, { recursive: true, force: true });
    });

    it("a file that is not a lock is an error naming it, never taken for a stale lock", () => {
        assert.throws(() => parseLock("/x/y.json", "not json"), /\/x\/y\.json is not a Pulumi lock file/);
        assert.throws(() => parseLock("/x/y.json", '{"pid":"12"}'), /no pid, hostname and timestamp/);
    });

    it("held while its process lives; stale once it is gone or its pid belongs to a newer process; foreign on another host", () => {
        assert.equal(judgeLock(lock, "vm", () => new Date(TAKEN.getTime() - 500)).kind, "held");
        assert.equal(judgeLock(lock, "vm", () => undefined).kind, "stale");
        const reused = judgeLock(lock, "vm", () => new Date(TAKEN.getTime() + 60_000));
        assert.equal(reused.kind, "stale");
        assert.match(reused.why, /its pid now belongs to a newer process/);
        const foreign = judgeLock(lock, "other-host", () => undefined);
        assert.equal(foreign.kind, "foreign", "a lock of another host can never be judged from here");
        assert.match(foreign.why, /pid 26755 on vm \(root\), since 2026-12-02T00:42:32\.328Z/);
    });
});
