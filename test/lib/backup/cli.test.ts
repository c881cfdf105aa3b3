import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { Io, main } from "../../../lib/backup/cli";
import { writeBackup } from "../../../lib/backup/store";

const DUMP = "-- PostgreSQL database dump\nCOPY public.users (id) FROM stdin;\n1\n\\.\n-- PostgreSQL database dump complete\n";

function io(interactive = false): Io & { lines: string[]; errors: string[]; asked: number } {
    const self = {
        lines: [] as string[],
        errors: [] as string[],
        asked: 0,
        interactive,
        out: (s: string) => self.lines.push(s),
        err: (s: string) => self.errors.push(s),
        ask: () => {
            self.asked++;
            return Promise.resolve("no");
        },
    };
    return self;
}

async function backupIn(dir: string): Promise<string> {
    const m = await writeBackup({
        dir,
        project: "cartie-dev",
        reason: "pre-migration",
        container: "cartie-dev-db",
        user: "cartie",
        database: "cartie",
        dump: (f) => {
            fs.writeFileSync(f, DUMP, { flag: "wx", mode: 0o600 });
            return Promise.resolve({ "public.users": 1 });
        },
    });
    return path.join(dir, m.file);
}

describe("backup command lines", () => {
    it("restore-backup refuses without --yes when stdin is not a terminal, before touching the host (exit 2)", async () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cartie-cli-"));
        const file = await backupIn(dir);
        const out = io(false);
        assert.equal(await main("restore-backup", [file, "--dir", dir, "--stack", "no-such-stack-here"], out), 2);
        assert.match(out.errors.join("\n"), /not at a terminal, so confirm with --yes; nothing was changed/);
        assert.equal(out.asked, 0);
    });

    it("restore-backup: no file, an unknown file, a changed file and a bad flag are bad input (exit 2)", async () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cartie-cli-"));
        const file = await backupIn(dir);
        const cases: [string[], RegExp][] = [
            [["--dir", dir], /which backup\?/],
            [[path.join(dir, "nope.sql"), "--dir", dir, "--yes"], /does not exist/],
            [["--bogus"], /Unknown option '--bogus'/],
        ];
        for (const [argv, message] of cases) {
            const out = io();
            assert.equal(await main("restore-backup", argv, out), 2, argv.join(" "));
            assert.match(out.errors.join("\n"), message);
        }
        fs.chmodSync(file, 0o600);
        fs.appendFileSync(file, "-- tampered\n");
        const out = io();
        assert.equal(await main("restore-backup", [file, "--yes", "--dir", dir], out), 2);
        assert.match(out.errors.join("\n"), /changed since it was taken/);
    });

    it("backups lists the folder (exit 0), also as JSON", async () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cartie-cli-"));
        const file = await backupIn(dir);
        const out = io();
        assert.equal(await main("backups", ["--dir", dir], out), 0);
        assert.match(out.lines.join("\n"), new RegExp(`pre-migration\\s+cartie-dev\\s+\\d+ B\\s+1\\s+1\\s+${path.basename(file)}`));
        const json = io();
        assert.equal(await main("backups", ["--dir", dir, "--json"], json), 0);
        assert.equal((JSON.parse(json.lines[0]) as { manifest: { file: string } }[])[0].manifest.file, path.basename(file));
    });
});
