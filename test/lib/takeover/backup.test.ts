import { strict as assert } from "node:assert";
import { BackupManifest, DumpRowCounter, backupBaseName, decideBackup, decideTakeover, humanBytes, latestCompleteBackup } from "../../../lib/takeover/backup";
import { planTakeover } from "../../../lib/takeover/plan";
import { facts, legacyDb, legacyWeb } from "./fixtures";

const manifest = (over: Partial<BackupManifest> = {}): BackupManifest => ({
    project: "infra2",
    file: "infra2-20261125T194002Z.sql",
    bytes: 100,
    sha256: "0".repeat(64),
    takenAt: "2026-11-25T19:40:02.000Z",
    container: "infra2-db-1",
    user: "cartie",
    database: "cartie",
    rowCounts: { "public.users": 3 },
    ...over,
});

describe("takeover backup: files and counts", () => {
    it("names a backup by project and UTC time", () => {
        assert.equal(backupBaseName("infra2", new Date("2026-11-25T19:40:02.123Z")), "infra2-20261125T194002Z");
    });

    it("counts rows per table from a plain dump, including escaped newlines and a `\\.` value", () => {
        const dump = [
            "-- PostgreSQL database dump",
            "COPY public.users (id, email, \"passwordHash\") FROM stdin;",
            "a\tx@y\th",
            "b\tline\\nbreak\t\\\\.",
            "c\tz@y\th",
            "\\.",
            "COPY public.\"Sessions\" (id) FROM stdin;",
            "\\.",
            "-- PostgreSQL database dump complete",
        ];
        const c = new DumpRowCounter();
        for (const line of dump) c.feed(line);
        assert.deepEqual(c.counts, { "public.users": 3, "public.Sessions": 0 });
        assert.equal(c.unterminated, false);
        const cut = new DumpRowCounter();
        for (const line of dump.slice(0, 3)) cut.feed(line);
        assert.equal(cut.unterminated, true);
    });

    it("reports sizes a person reads", () => {
        assert.equal(humanBytes(512), "512 B");
        assert.equal(humanBytes(2048), "2.0 KiB");
        assert.equal(humanBytes(5 * 1024 * 1024), "5.0 MiB");
    });

    it("takes the newest complete backup of the project: the dump on disk with the recorded size", () => {
        const older = manifest({ file: "a.sql", takenAt: "2026-11-25T10:00:00.000Z" });
        const newer = manifest({ file: "b.sql", takenAt: "2026-11-25T11:00:00.000Z" });
        const truncated = manifest({ file: "c.sql", takenAt: "2026-11-25T12:00:00.000Z" });
        const other = manifest({ project: "other", file: "d.sql", takenAt: "2026-11-25T13:00:00.000Z" });
        const sizes: Record<string, number> = { "a.sql": 100, "b.sql": 100, "c.sql": 7, "d.sql": 100 };
        assert.equal(latestCompleteBackup("infra2", [older, truncated, other, newer], (f) => sizes[f])?.file, "b.sql");
        assert.equal(latestCompleteBackup("infra2", [older], () => undefined), undefined);
    });
});

describe("takeover backup and takeover decisions", () => {
    it("backup: dumps a running legacy db; reuses a complete backup when the db is already stopped; refuses without one", () => {
        assert.equal(decideBackup(planTakeover(facts()), undefined).kind, "dump");
        assert.equal(decideBackup(planTakeover(facts()), manifest()).kind, "dump", "a running db is always dumped afresh");
        const stopped = planTakeover(facts({ legacy: [legacyDb({ state: "exited", live: false })] }));
        assert.equal(decideBackup(stopped, manifest()).kind, "reuse");
        const refused = decideBackup(stopped, undefined);
        assert.equal(refused.kind, "refuse");
        assert.match(refused.message, /docker start infra2-db-1/);
    });

    it("backup: nothing to do when nothing legacy is left or the db is gone; refuses on a preflight problem", () => {
        assert.equal(decideBackup(planTakeover(facts({ legacy: [] })), undefined).kind, "none");
        assert.equal(decideBackup(planTakeover(facts({ legacy: [legacyWeb()] })), undefined).kind, "none");
        assert.equal(decideBackup(planTakeover(facts({ volume: { exists: true, pgVersion: "14" } })), undefined).kind, "refuse");
    });

    it("takeover: never without a complete backup while a legacy db exists", () => {
        const d = decideTakeover(planTakeover(facts()), undefined);
        assert.equal(d.kind, "refuse");
        assert.match(d.message, /no complete backup/);
        assert.equal(decideTakeover(planTakeover(facts()), manifest()).kind, "go");
        assert.equal(decideTakeover(planTakeover(facts({ legacy: [legacyWeb()] })), undefined).kind, "go");
        assert.equal(decideTakeover(planTakeover(facts({ legacy: [] })), undefined).kind, "noop");
        assert.equal(decideTakeover(planTakeover(facts({ volume: { exists: true, pgVersion: "16" } })), manifest()).kind, "refuse");
    });
});
