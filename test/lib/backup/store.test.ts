import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { BackupError, applyRetention, checkAgainstManifest, explainWriteFailure, listBackups, writeBackup } from "../../../lib/backup/store";

const DUMP = [
    "-- PostgreSQL database dump",
    "COPY public.users (id, email) FROM stdin;",
    "1\ta@x",
    "2\tb\\tx",
    "\\.",
    "COPY public.sessions (id) FROM stdin;",
    "\\.",
    "-- PostgreSQL database dump complete",
    "",
].join("\n");

const tmp = (): string => fs.mkdtempSync(path.join(os.tmpdir(), "cartie-backup-unit-"));
const writer = (text: string, live?: Record<string, number>) => (outFile: string): Promise<Record<string, number> | undefined> => {
    fs.writeFileSync(outFile, text, { flag: "wx", mode: 0o600 });
    return Promise.resolve(live);
};
const base = (dir: string) => ({ dir, project: "cartie-dev", reason: "manual" as const, container: "cartie-dev-db", user: "cartie", database: "cartie", now: () => new Date("2026-11-25T19:40:02Z") });

describe("writing a backup", () => {
    it("writes the dump (owner-only) and its manifest with size, sha256 and the rows read from the dump", async () => {
        const dir = tmp();
        const m = await writeBackup({ ...base(dir), dump: writer(DUMP, { "public.users": 2, "public.sessions": 0 }) });
        assert.equal(m.file, "20261125T194002Z-manual-cartie-dev.sql");
        assert.deepEqual(m.rowCounts, { "public.users": 2, "public.sessions": 0 });
        assert.equal(m.bytes, Buffer.byteLength(DUMP));
        assert.match(m.sha256, /^[0-9a-f]{64}$/);
        assert.equal(m.verifiedAgainstLive, true);
        assert.deepEqual(fs.readdirSync(dir).sort(), ["20261125T194002Z-manual-cartie-dev.json", "20261125T194002Z-manual-cartie-dev.sql"]);
        for (const f of fs.readdirSync(dir)) assert.equal(fs.statSync(path.join(dir, f)).mode & 0o777, 0o600, f);
        assert.deepEqual(JSON.parse(fs.readFileSync(path.join(dir, "20261125T194002Z-manual-cartie-dev.json"), "utf8")), m);
        assert.deepEqual((await checkAgainstManifest(path.join(dir, m.file))).file, m.file);
    });

    it("refuses a dump whose rows differ from the live counts of its snapshot, and leaves nothing", async () => {
        const dir = tmp();
        await assert.rejects(writeBackup({ ...base(dir), dump: writer(DUMP, { "public.users": 3, "public.sessions": 0 }) }), (err: Error) => {
            assert.ok(err instanceof BackupError);
            assert.match(err.message, /did not verify[\s\S]*public\.users: 2 row\(s\) in the dump, 3 in the database/);
            return true;
        });
        assert.deepEqual(fs.readdirSync(dir), []);
    });

    it("refuses a truncated dump (cut inside a table's data) and leaves nothing", async () => {
        const dir = tmp();
        await assert.rejects(writeBackup({ ...base(dir), dump: writer(DUMP.split("\n").slice(0, 3).join("\n")) }), /incomplete/);
        assert.deepEqual(fs.readdirSync(dir), []);
    });

    it("a failing dump is no backup: its cause is in the message, nothing is left", async () => {
        const dir = tmp();
        const failing = (outFile: string): Promise<undefined> => {
            fs.writeFileSync(outFile, "-- PostgreSQL database dump\nCOPY public.users (id) FROM stdin;\n1\n");
            return Promise.reject(new Error("pg_dump of cartie in cartie-dev-db failed (exit 1): connection lost"));
        };
        await assert.rejects(writeBackup({ ...base(dir), dump: failing }), /backup not taken: pg_dump of cartie in cartie-dev-db failed \(exit 1\): connection lost/);
        assert.deepEqual(fs.readdirSync(dir), []);
    });

    it("names a full disk, a read-only file system and a permission problem with the fix", () => {
        const e = (code: string, message: string): NodeJS.ErrnoException => Object.assign(new Error(message), { code });
        assert.match(explainWriteFailure(e("ENOSPC", "ENOSPC: no space left on device, write"), "/b"), /\/b is full \(no space left on device\): free space there or set `cartie:backupDir`/);
        assert.match(explainWriteFailure(e("EROFS", "EROFS: read-only file system"), "/b"), /read-only file system/);
        assert.match(explainWriteFailure(e("EACCES", "EACCES: permission denied"), "/b"), /not writable by this user/);
    });

    it("never overwrites: a second backup in the same second gets a new name", async () => {
        const dir = tmp();
        const a = await writeBackup({ ...base(dir), dump: writer(DUMP) });
        const b = await writeBackup({ ...base(dir), dump: writer(DUMP) });
        assert.notEqual(a.file, b.file);
        assert.equal(listBackups(dir).length, 2);
    });

    it("retention on disk removes the oldest pre-migration dumps with their manifests", async () => {
        const dir = tmp();
        let hour = 0;
        const take = (reason: "pre-migration" | "takeover") =>
            writeBackup({ ...base(dir), reason, project: reason === "takeover" ? "infra2" : "cartie-dev", now: () => new Date(Date.UTC(2026, 10, 25, hour++)), dump: writer(DUMP) });
        const takeover = await take("takeover");
        const pre = [];
        for (let i = 0; i < 4; i++) pre.push(await take("pre-migration"));
        const removed = applyRetention(dir, 2);
        assert.deepEqual(removed.sort(), [pre[0].file, pre[1].file].sort());
        assert.deepEqual(
            listBackups(dir).map((b) => b.manifest.file).sort(),
            [takeover.file, pre[2].file, pre[3].file].sort(),
        );
    });

    it("refuses to restore a dump that changed since its manifest was written", async () => {
        const dir = tmp();
        const m = await writeBackup({ ...base(dir), dump: writer(DUMP) });
        fs.chmodSync(path.join(dir, m.file), 0o600);
        fs.appendFileSync(path.join(dir, m.file), "DROP TABLE users;\n");
        await assert.rejects(checkAgainstManifest(path.join(dir, m.file)), /changed since it was taken/);
        await assert.rejects(checkAgainstManifest(path.join(dir, "nope.sql")), /does not exist/);
    });
});
