import { strict as assert } from "node:assert";
import { BackupManifest } from "../../../lib/backup/manifest";
import { decideBackup, decideTakeover } from "../../../lib/takeover/backup";
import { planTakeover } from "../../../lib/takeover/plan";
import { facts, legacyDb, legacyWeb } from "./fixtures";

const manifest = (over: Partial<BackupManifest> = {}): BackupManifest => ({
    project: "infra2",
    reason: "takeover",
    file: "20261125T194002Z-takeover-infra2.sql",
    bytes: 100,
    sha256: "0".repeat(64),
    takenAt: "2026-11-25T19:40:02.000Z",
    container: "infra2-db-1",
    user: "cartie",
    database: "cartie",
    rowCounts: { "public.users": 3 },
    verifiedAgainstLive: false,
    ...over,
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
