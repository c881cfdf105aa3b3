import { strict as assert } from "node:assert";
import {
    BackupManifest,
    DumpRowCounter,
    backupBaseName,
    compareRowCounts,
    humanBytes,
    latestCompleteBackup,
    parseManifest,
    renderBackupList,
    retentionVictims,
} from "../../../lib/backup/manifest";

const manifest = (over: Partial<BackupManifest> = {}): BackupManifest => ({
    project: "cartie-dev",
    reason: "pre-migration",
    file: "x.sql",
    bytes: 100,
    sha256: "0".repeat(64),
    takenAt: "2026-11-25T19:40:02.000Z",
    container: "cartie-dev-db",
    user: "cartie",
    database: "cartie",
    rowCounts: { "public.users": 3 },
    verifiedAgainstLive: true,
    ...over,
});

describe("backup files and counts", () => {
    it("names a backup by UTC time first (so names sort by time), then why, then whose", () => {
        assert.equal(backupBaseName("cartie-dev", "pre-migration", new Date("2026-11-25T19:40:02.123Z")), "20261125T194002Z-pre-migration-cartie-dev");
        assert.equal(backupBaseName("infra2", "takeover", new Date("2026-11-25T19:40:02Z")), "20261125T194002Z-takeover-infra2");
        const names = ["2026-12-01T00:00:00Z", "2026-11-30T23:59:59Z", "2027-01-01T00:00:00Z"].map((t) => backupBaseName("p", "manual", new Date(t)));
        assert.deepEqual([...names].sort(), [names[1], names[0], names[2]]);
    });

    it("counts rows per table from a plain dump, including escaped newlines and a `\\.` value", () => {
        const dump = [
            "-- PostgreSQL database dump",
            'COPY public.users (id, email, "passwordHash") FROM stdin;',
            "a\tx@y\th",
            "b\tline\\nbreak\t\\\\.",
            "c\tz@y\th",
            "\\.",
            'COPY public."Sessions" (id) FROM stdin;',
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

    it("names tables as the database does: quoted names with spaces, dots and quotes unquoted", () => {
        const c = new DumpRowCounter();
        for (const line of ['COPY public."Weird Table" (id, "a (b)") FROM stdin;', "1\tx", "\\.", 'COPY "my.schema"."say ""hi""" (id) FROM stdin;', "1", "2", "\\."]) c.feed(line);
        assert.deepEqual(c.counts, { "public.Weird Table": 1, 'my.schema.say "hi"': 2 });
    });

    it("compares the dump's rows with the live rows table by table", () => {
        assert.deepEqual(compareRowCounts({ "public.a": 2, "public.b": 0 }, { "public.a": 2, "public.b": 0 }), []);
        assert.deepEqual(compareRowCounts({ "public.a": 1 }, { "public.a": 2, "public.c": 5 }), [
            "public.a: 1 row(s) in the dump, 2 in the database",
            "public.c: 5 row(s) in the database, missing from the dump",
        ]);
        assert.deepEqual(compareRowCounts({ "public.z": 1 }, {}), ["public.z: 1 row(s) in the dump, no such table in the database"]);
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
        assert.equal(latestCompleteBackup("cartie-dev", [older, truncated, other, newer], (f) => sizes[f])?.file, "b.sql");
        assert.equal(latestCompleteBackup("cartie-dev", [older], () => undefined), undefined);
    });

    it("reads a takeover manifest written before backups had reasons as a takeover backup; refuses foreign JSON", () => {
        const old = parseManifest({ project: "infra2", file: "infra2-20261125T194002Z.sql", bytes: 10, sha256: "a", takenAt: "2026-11-25T19:40:02.000Z", rowCounts: { "public.users": 1 } });
        assert.equal(old?.reason, "takeover");
        assert.equal(old?.verifiedAgainstLive, false);
        assert.equal(parseManifest({ name: "package" }), undefined);
        assert.equal(parseManifest(null), undefined);
    });
});

describe("retention", () => {
    const at = (h: number): string => `2026-11-25T${String(h).padStart(2, "0")}:00:00.000Z`;
    const all = (): BackupManifest[] => [
        manifest({ reason: "takeover", project: "infra2", file: "t.sql", takenAt: at(0) }),
        ...[1, 2, 3, 4, 5].map((h) => manifest({ file: `p${h}.sql`, takenAt: at(h) })),
        manifest({ reason: "manual", file: "m.sql", takenAt: at(2) }),
    ];
    const onDisk = (): number => 100;

    it("keeps the newest N pre-migration backups; never a takeover or a manual one", () => {
        assert.deepEqual(retentionVictims(all(), 2, onDisk).map((m) => m.file).sort(), ["p1.sql", "p2.sql", "p3.sql"]);
        assert.deepEqual(retentionVictims(all(), 10, onDisk), []);
    });

    it("never removes the newest complete backup, even when the newer ones are incomplete", () => {
        // p5 and p4 lost their dumps (or were cut): p3 is the newest complete one and must stay.
        const size = (f: string): number | undefined => (f === "p5.sql" || f === "p4.sql" ? undefined : 100);
        const victims = retentionVictims(all(), 2, size).map((m) => m.file);
        assert.ok(!victims.includes("p3.sql"), victims.join(", "));
        assert.deepEqual(victims.sort(), ["p1.sql", "p2.sql"]);
    });
});

describe("the backup list", () => {
    it("shows time, reason, size and row totals, newest first, and marks an incomplete one", () => {
        const text = renderBackupList(
            [
                { manifest: manifest({ file: "old.sql", takenAt: "2026-11-25T10:00:00.000Z", rowCounts: { "public.a": 2, "public.b": 3 } }), complete: true },
                { manifest: manifest({ file: "new.sql", reason: "manual", takenAt: "2026-11-26T10:00:00.000Z", bytes: 2048 }), complete: false },
            ],
            "/srv/backups",
        );
        const lines = text.split("\n");
        assert.equal(lines[0], "backups in /srv/backups:");
        assert.match(lines[2], /^2026-11-26T10:00:00Z\s+manual\s+cartie-dev\s+INCOMPLETE.*\s3\s+1\s+new\.sql$/);
        assert.match(lines[3], /^2026-11-25T10:00:00Z\s+pre-migration\s+cartie-dev\s+100 B\s+5\s+2\s+old\.sql$/);
        assert.equal(renderBackupList([], "/x"), "no backups in /x");
    });
});
