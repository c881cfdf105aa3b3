import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { readBackupStatus, renderBackupStatus, withBackupStatus } from "../../lib/doctor/backups";
import { DOCTOR_SCHEMA_VERSION, DoctorReport } from "../../lib/doctor/types";
import { writeBackup } from "../../lib/backup/store";

const DUMP = "-- PostgreSQL database dump\nCOPY public.users (id) FROM stdin;\n1\n2\n\\.\n-- PostgreSQL database dump complete\n";
const empty: DoctorReport = { schemaVersion: DOCTOR_SCHEMA_VERSION, stack: "dev", healthy: true, containers: [], findings: [], probes: [], notes: [] };

async function take(dir: string, project: string, hour: number): Promise<string> {
    const m = await writeBackup({
        dir,
        project,
        reason: "pre-migration",
        container: "db",
        user: "cartie",
        database: "cartie",
        now: () => new Date(Date.UTC(2026, 10, 25, hour)),
        dump: (f) => {
            fs.writeFileSync(f, DUMP, { flag: "wx", mode: 0o600 });
            return Promise.resolve(undefined);
        },
    });
    return m.file;
}

describe("doctor: backups", () => {
    it("lists the stack's newest complete backup", async () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cartie-doctor-backups-"));
        await take(dir, "cartie-dev", 1);
        const newest = await take(dir, "cartie-dev", 2);
        await take(dir, "cartie-other", 3);
        const report = withBackupStatus(empty, readBackupStatus(dir, ["cartie-dev"]));
        assert.equal(report.backups?.newest?.file, newest);
        assert.equal(report.backups?.warning, undefined);
        assert.match(renderBackupStatus(report.backups ?? { dir }), new RegExp(`^Newest backup: .*${newest} \\(pre-migration, 2026-11-25T02:00:00.000Z, \\d+ B, 2 rows\\)$`));
    });

    it("warns when there is none (an incomplete dump does not count), without changing the verdict", async () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cartie-doctor-backups-"));
        const cut = await take(dir, "cartie-dev", 1);
        fs.truncateSync(path.join(dir, cut), 10);
        const report = withBackupStatus(empty, readBackupStatus(dir, ["cartie-dev"]));
        assert.equal(report.backups?.newest, undefined);
        assert.match(report.backups?.warning ?? "", /no complete backup[\s\S]*npm run backup/);
        assert.equal(report.healthy, true);
        assert.deepEqual(report.findings, []);
        assert.match(renderBackupStatus(report.backups ?? { dir }), /^Newest backup: none in .*\n {2}\[warn\] no complete backup/);
    });
});
