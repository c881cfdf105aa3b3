import { strict as assert } from "node:assert";
import { BackupManifest } from "../../../lib/backup/manifest";
import { RestoreHost, restoreBackup, restoreNames } from "../../../lib/backup/restore";

const manifest: BackupManifest = {
    project: "cartie-dev",
    reason: "pre-migration",
    file: "20261125T194002Z-pre-migration-cartie-dev.sql",
    bytes: 10,
    sha256: "a",
    takenAt: "2026-11-25T19:40:02.000Z",
    container: "cartie-dev-db",
    user: "cartie",
    database: "cartie",
    rowCounts: { "public.users": 2 },
    verifiedAgainstLive: true,
};

/** Databases and containers in memory; records every operation in order. */
class FakeHost implements RestoreHost {
    readonly calls: string[] = [];
    databases = new Set(["postgres", "cartie", "cartie_restore_20260101t000000z"]);
    running = ["cartie-dev-api-1a2b3c4", "cartie-dev-api-5d6e7f8"];
    loadFails = false;
    restoredRows = 2;

    runningApis(): Promise<string[]> {
        return Promise.resolve([...this.running]);
    }
    stop(c: string[]): Promise<void> {
        this.calls.push(`stop ${c.join(",")}`);
        this.running = this.running.filter((x) => !c.includes(x));
        return Promise.resolve();
    }
    start(c: string[]): Promise<void> {
        this.calls.push(`start ${c.join(",")}`);
        this.running.push(...c);
        return Promise.resolve();
    }
    admin(sql: string): Promise<string> {
        if (sql.startsWith("SELECT datname")) return Promise.resolve([...this.databases].filter((d) => d.startsWith("cartie_restore_")).join("\n"));
        const create = /^CREATE DATABASE "([^"]+)"/.exec(sql);
        if (create) this.databases.add(create[1]);
        const drop = /^DROP DATABASE IF EXISTS "([^"]+)"/.exec(sql);
        if (drop) this.databases.delete(drop[1]);
        if (sql.includes("ALTER DATABASE")) {
            const renames = [...sql.matchAll(/ALTER DATABASE "([^"]+)" RENAME TO "([^"]+)"/g)];
            for (const [, from, to] of renames) {
                this.databases.delete(from);
                this.databases.add(to);
            }
            this.calls.push(`switch ${renames.map((r) => `${r[1]}->${r[2]}`).join(" ")}`);
            assert.match(sql, /BEGIN;[\s\S]*RENAME[\s\S]*RENAME[\s\S]*COMMIT;/, "both renames are one transaction");
        } else this.calls.push(sql.split(" ").slice(0, 3).join(" "));
        return Promise.resolve("");
    }
    load(file: string, database: string): Promise<void> {
        assert.equal(file, `/b/${manifest.file}`);
        this.calls.push(`load ${database}`);
        return this.loadFails ? Promise.reject(new Error("loading the dump failed (exit 3)")) : Promise.resolve();
    }
    counts(database: string): Promise<Record<string, number>> {
        this.calls.push(`counts ${database}`);
        return Promise.resolve({ "public.users": this.restoredRows });
    }
}

const now = new Date("2026-11-26T08:00:00Z");
const opts = { dumpFile: `/b/${manifest.file}`, manifest, database: "cartie", owner: "cartie", now: () => now };
const { scratch, previous } = restoreNames("cartie", now);

describe("restoring a backup", () => {
    it("stops every api, loads into a fresh database, checks the rows, switches in one transaction, starts the apis again", async () => {
        const host = new FakeHost();
        const out = await restoreBackup(host, opts);
        assert.deepEqual(host.calls, [
            "DROP DATABASE IF",
            "stop cartie-dev-api-1a2b3c4,cartie-dev-api-5d6e7f8",
            "CREATE DATABASE \"cartie_restore_20261126t080000z\"",
            `load ${scratch}`,
            `counts ${scratch}`,
            `switch cartie->${previous} ${scratch}->cartie`,
            "start cartie-dev-api-1a2b3c4,cartie-dev-api-5d6e7f8",
        ]);
        assert.equal(out.previous, previous);
        assert.ok(host.databases.has("cartie") && host.databases.has(previous) && !host.databases.has(scratch));
        assert.ok(!host.databases.has("cartie_restore_20260101t000000z"), "the leftover of an interrupted restore was kept");
    });

    it("a load that fails leaves the current database untouched, drops the fresh one and starts the apis again", async () => {
        const host = new FakeHost();
        host.loadFails = true;
        await assert.rejects(restoreBackup(host, opts), /loading the dump failed/);
        assert.ok(!host.calls.some((c) => c.startsWith("switch")));
        assert.ok(host.databases.has("cartie") && !host.databases.has(scratch));
        assert.equal(host.calls.at(-1), "start cartie-dev-api-1a2b3c4,cartie-dev-api-5d6e7f8");
    });

    it("a run killed after stopping the apis is finished by the next run, which starts them again", async () => {
        const host = new FakeHost();
        let journal: string[] = [];
        const file = { read: () => journal, write: (c: string[]) => (journal = c), clear: () => (journal = []) };
        host.load = () => new Promise<void>(() => undefined); // hangs, like a run killed while loading
        void restoreBackup(host, { ...opts, journal: file });
        await new Promise((r) => setTimeout(r, 20));
        assert.deepEqual(host.running, []);
        assert.deepEqual(journal, ["cartie-dev-api-1a2b3c4", "cartie-dev-api-5d6e7f8"]);

        const second = new FakeHost();
        second.running = []; // what the killed run left
        second.databases.add(scratch);
        await restoreBackup(second, { ...opts, journal: file, now: () => new Date("2026-11-26T09:00:00Z") });
        assert.equal(second.calls.at(-1), "start cartie-dev-api-1a2b3c4,cartie-dev-api-5d6e7f8");
        assert.ok(!second.databases.has(scratch), "the first run's fresh database was kept");
        assert.deepEqual(journal, []);
    });

    it("rows that differ from the manifest stop the restore before the switch", async () => {
        const host = new FakeHost();
        host.restoredRows = 1;
        await assert.rejects(restoreBackup(host, opts), /differ from the manifest[\s\S]*public\.users: 1 row\(s\) in the dump, 2 in the database/);
        assert.ok(!host.calls.some((c) => c.startsWith("switch")));
        assert.ok(host.databases.has("cartie"));
    });
});
