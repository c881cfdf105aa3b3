/**
 * The routes responder (images/routes/responder.mjs) as Caddy's resolver meets it: a real
 * process on a UDP port of this host, asked by Node's own DNS client (c-ares), with the records
 * file rewritten between queries the way the release step rewrites it (write, then rename).
 */
import { strict as assert } from "node:assert";
import { ChildProcess, execFile, spawn } from "node:child_process";
import * as dgram from "node:dgram";
import * as dns from "node:dns";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { recordsFile, routeName } from "../../lib/routes/names";

const RESPONDER = path.resolve(__dirname, "../../images/routes/responder.mjs");

async function freeUdpPort(): Promise<number> {
    const s = dgram.createSocket("udp4");
    await new Promise<void>((r) => s.bind(0, "127.0.0.1", r));
    const port = s.address().port;
    await new Promise<void>((r) => s.close(() => r()));
    return port;
}

describe("the routes responder (images/routes/responder.mjs)", function () {
    // `--check` waits up to 2 s for an answer where none comes.
    this.timeout(10_000);
    let dir: string;
    let file: string;
    let port: number;
    let child: ChildProcess;
    let output = "";
    let resolver: dns.promises.Resolver;
    const write = (text: string): void => {
        fs.writeFileSync(`${file}.next`, text);
        fs.renameSync(`${file}.next`, file);
    };
    const code = (p: Promise<unknown>): Promise<string> => p.then(() => "ok", (e: NodeJS.ErrnoException) => String(e.code));

    before(async () => {
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "cartie-routes-"));
        file = path.join(dir, "records.json");
        port = await freeUdpPort();
        child = spawn(process.execPath, [RESPONDER], { env: { ...process.env, ROUTES_PORT: String(port), ROUTES_HOST: "127.0.0.1", ROUTES_FILE: file } });
        child.stdout?.on("data", (d: Buffer) => (output += d.toString()));
        child.stderr?.on("data", (d: Buffer) => (output += d.toString()));
        for (let i = 0; i < 50 && !output.includes("answering for"); i++) await new Promise((r) => setTimeout(r, 100));
        assert.match(output, /answering for \*\.cartie\.internal on 127\.0\.0\.1:\d+/);
        resolver = new dns.promises.Resolver({ timeout: 1000, tries: 1 });
        resolver.setServers([`127.0.0.1:${port}`]);
    });

    after(() => {
        child?.kill("SIGTERM");
        fs.rmSync(dir, { recursive: true, force: true });
    });

    it("before any release (no file): every route name is NXDOMAIN, so Caddy has no upstream and users get its 503", async () => {
        assert.equal(await code(resolver.resolve4(routeName("api", "live"))), "ENOTFOUND");
    });

    it("answers a name with its target's addresses, resolved on each query (a host name or an IPv4 address), and AAAA with no answer", async () => {
        write(recordsFile({ live: { api: "127.0.0.1", web: "localhost" }, candidate: { api: "127.0.0.2", web: "localhost" } }));
        assert.deepEqual(await resolver.resolve4(routeName("api", "live")), ["127.0.0.1"]);
        assert.deepEqual(await resolver.resolve4(routeName("web", "live")), ["127.0.0.1"]);
        assert.deepEqual(await resolver.resolve4(routeName("api", "candidate")), ["127.0.0.2"]);
        assert.deepEqual(await resolver.resolve4(`${routeName("api", "live").toUpperCase()}.`), ["127.0.0.1"], "names are case-insensitive, a trailing dot is the same name");
        assert.equal(await code(resolver.resolve6(routeName("api", "live"))), "ENODATA");
        assert.equal(await code(resolver.resolve4("other.example.org")), "ENOTFOUND");
    });

    it("the very next query after a rewrite answers the new record: this is the whole switch", async () => {
        write(recordsFile({ live: { api: "127.0.0.3", web: "localhost" }, candidate: { api: "127.0.0.3", web: "localhost" } }));
        assert.deepEqual(await resolver.resolve4(routeName("api", "live")), ["127.0.0.3"]);
        assert.match(output, /records: .*127\.0\.0\.3/, "a records change is not in the responder's log");
    });

    it("a target that does not resolve (a container gone) is SERVFAIL; a file that is not JSON is no records, said in the log", async () => {
        write(recordsFile({ live: { api: "no-such-container.invalid", web: "localhost" } }));
        assert.equal(await code(resolver.resolve4(routeName("api", "live"))), "ESERVFAIL");
        write("{ half a file");
        assert.equal(await code(resolver.resolve4(routeName("web", "live"))), "ENOTFOUND");
        assert.match(output, /is not JSON/);
    });

    it("`--check` (the healthcheck) passes against the running responder and fails where none answers", async () => {
        const check = (p: number): Promise<number> =>
            new Promise((resolve) => execFile(process.execPath, [RESPONDER, "--check"], { env: { ...process.env, ROUTES_PORT: String(p) } }, (err) => resolve(err ? Number((err as { code?: number }).code ?? 1) : 0)));
        assert.equal(await check(port), 0);
        assert.notEqual(await check(await freeUdpPort()), 0);
    });
});
