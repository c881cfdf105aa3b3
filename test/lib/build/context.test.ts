import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import { createRequire } from "node:module";
import * as os from "node:os";
import * as path from "node:path";
import dockerignore from "@balena/dockerignore";
import {
    BuildContextError,
    contentTag,
    contextDigest,
    guardBuildContext,
    listContext,
    migrationsHash,
    missingExclusions,
    parseDockerignore,
} from "../../../lib/build/context";
import { HashCache, isSettled } from "../../../lib/build/digestCache";
import { makeTree, writeTree } from "../../support/tree";

const sent = (dir: string): string[] => listContext(dir).entries.filter((e) => e.kind !== "dir").map((e) => e.rel);

describe("build context guard", () => {
    it("names each of node_modules, dist and .env that .dockerignore lets through", () => {
        assert.deepEqual(missingExclusions([]), ["node_modules", "dist", ".env"]);
        assert.deepEqual(missingExclusions(["node_modules", ".env"]), ["dist"]);
        assert.deepEqual(missingExclusions(["**/node_modules", "dist/", ".env*"]), []);
        // a later exception undoes an exclusion, as in Docker
        assert.deepEqual(missingExclusions(["node_modules", "dist", ".env", "!dist"]), ["dist"]);
    });

    it("fails with the context, what leaks, and the lines to add", () => {
        const dir = makeTree({ Dockerfile: "FROM scratch\n", ".dockerignore": "node_modules\n" });
        assert.throws(() => guardBuildContext(dir, "examples/cartie/apps/api"), (err: Error) => {
            assert.ok(err instanceof BuildContextError);
            assert.match(err.message, /examples\/cartie\/apps\/api\/\.dockerignore does not exclude dist, \.env/);
            assert.match(err.message, /add these lines to examples\/cartie\/apps\/api\/\.dockerignore:\n {2}dist\n {2}\.env/);
            return true;
        });
        const none = makeTree({ Dockerfile: "FROM scratch\n" });
        assert.throws(() => guardBuildContext(none, "apps/web"), /apps\/web has no \.dockerignore/);
    });

    it("passes the sample app's own contexts", () => {
        for (const app of ["api", "web"]) guardBuildContext(path.resolve(__dirname, `../../../examples/cartie/apps/${app}`), app);
    });
});

describe("what Docker sends", () => {
    it("honours root-anchored rules, ** patterns, ! exceptions and directory rules", () => {
        const dir = makeTree({
            Dockerfile: "FROM scratch\n",
            ".dockerignore": ["# comment", "node_modules", "**/*.log", "dist", "!dist/keep.txt", "docs/**", "!docs/README.md", "secret.env", "/tmp"].join("\n"),
            "src/a.ts": "a",
            "src/node_modules/nested.js": "kept: only the root node_modules is excluded",
            "node_modules/x/index.js": "x",
            "app.log": "l",
            "src/deep/debug.log": "l",
            "dist/out.js": "o",
            "dist/keep.txt": "k",
            "docs/guide.md": "g",
            "docs/README.md": "r",
            "secret.env": "s",
            "tmp/t": "t",
        });
        assert.deepEqual(sent(dir), [".dockerignore", "Dockerfile", "dist/keep.txt", "docs/README.md", "src/a.ts", "src/node_modules/nested.js"]);
    });

    it("always sends the Dockerfile and .dockerignore, even when listed", () => {
        const dir = makeTree({ Dockerfile: "FROM scratch\n", ".dockerignore": "Dockerfile\n.dockerignore\n*.md\n", "a.md": "a" });
        assert.deepEqual(sent(dir), [".dockerignore", "Dockerfile"]);
    });

    it("does not walk an excluded directory unless an exception could reach inside it", () => {
        const files: Record<string, string> = { Dockerfile: "FROM scratch\n", "src/a.ts": "a" };
        for (let i = 0; i < 200; i++) files[`node_modules/pkg${i}/index.js`] = "x";
        const dir = makeTree({ ...files, ".dockerignore": "node_modules\n" });
        const plain = listContext(dir);
        assert.ok(plain.visited < 10, `visited ${plain.visited} entries; node_modules was walked`);
        fs.writeFileSync(path.join(dir, ".dockerignore"), "node_modules\n!node_modules/pkg7/index.js\n");
        const withException = listContext(dir);
        assert.ok(withException.visited > 200, "an exception inside node_modules must make the walk enter it");
        assert.ok(withException.entries.some((e) => e.rel === "node_modules/pkg7/index.js"));
    });

    it("parses comments and blank lines away", () => {
        assert.deepEqual(parseDockerignore("# c\n\nnode_modules\r\n  dist  \n"), ["node_modules", "dist"]);
    });
});

describe("context digest", () => {
    const base = { Dockerfile: "FROM scratch\nCOPY . /app\n", ".dockerignore": "node_modules\ndist\n.env\n", "src/index.ts": "console.log(1)\n", "package.json": "{}\n" };

    it("is the same for the same content, whatever the mtimes", async () => {
        const a = makeTree(base);
        const b = makeTree(base);
        const past = new Date(2000, 1, 1);
        fs.utimesSync(path.join(b, "src/index.ts"), past, past);
        assert.equal((await contextDigest(a)).digest, (await contextDigest(b)).digest);
    });

    it("changes when a sent file's content, name or executable bit changes", async () => {
        const dir = makeTree(base);
        const d0 = (await contextDigest(dir)).digest;
        writeTree(dir, { "src/index.ts": "console.log(2)\n" });
        const d1 = (await contextDigest(dir)).digest;
        assert.notEqual(d1, d0);
        fs.chmodSync(path.join(dir, "src/index.ts"), 0o755);
        const d2 = (await contextDigest(dir)).digest;
        assert.notEqual(d2, d1);
        fs.renameSync(path.join(dir, "src/index.ts"), path.join(dir, "src/main.ts"));
        assert.notEqual((await contextDigest(dir)).digest, d2);
    });

    it("ignores what .dockerignore excludes", async () => {
        const dir = makeTree(base);
        const d0 = (await contextDigest(dir)).digest;
        writeTree(dir, { "node_modules/x/index.js": "x", "dist/server.js": "stale", ".env": "JWT_SECRET=whatever" });
        assert.equal((await contextDigest(dir)).digest, d0);
    });

    it("covers the build args, in any order", async () => {
        const dir = makeTree(base);
        const a = await contextDigest(dir, { VITE_API_BASE_URL: "http://localhost:8082/api", NODE_IMAGE: "node:20" });
        const b = await contextDigest(dir, { NODE_IMAGE: "node:20", VITE_API_BASE_URL: "http://localhost:8082/api" });
        const c = await contextDigest(dir, { NODE_IMAGE: "node:20", VITE_API_BASE_URL: "https://cartie.example.org/api" });
        assert.equal(a.digest, b.digest);
        assert.notEqual(a.digest, c.digest);
    });

    it("counts files and bytes, and makes a short tag", async () => {
        const d = await contextDigest(makeTree(base));
        assert.equal(d.files, 4);
        assert.equal(d.bytes, Object.values(base).reduce((n, s) => n + Buffer.byteLength(s), 0));
        assert.match(contentTag(d.digest), /^[0-9a-f]{16}$/);
    });

    it("hashes the migrations folder whole", async () => {
        const dir = makeTree({ "v41_baseline/migration.sql": "CREATE TABLE users ();", "migration_lock.toml": "provider = \"postgresql\"\n" });
        const h0 = await migrationsHash(dir);
        writeTree(dir, { "v42_add_sessions/migration.sql": "CREATE TABLE sessions ();" });
        assert.notEqual(await migrationsHash(dir), h0);
    });
});

describe("listing against the matcher itself", () => {
    it("sends what the library would: every listed entry is kept and every skipped one is excluded", () => {
        const patterns = ["**/node_modules", "*.log", "dist", "!dist/keep.txt", "docs/**", "!docs/README.md"];
        const dir = makeTree({
            Dockerfile: "FROM scratch\n",
            ".dockerignore": patterns.join("\n"),
            "src/a.ts": "a",
            "src/node_modules/x.js": "x",
            "app.log": "l",
            "src/deep.log": "d",
            "dist/out.js": "o",
            "dist/keep.txt": "k",
            "docs/guide.md": "g",
            "docs/README.md": "r",
            "src/Node_Modules/y.js": "y",
        });
        // Docker matches case-sensitively: src/Node_Modules is sent.
        const ig = dockerignore({ ignorecase: false }).add(patterns);
        const files = listContext(dir).entries.filter((e) => e.kind === "file").map((e) => e.rel);
        const all = ["Dockerfile", ".dockerignore", "src/a.ts", "src/node_modules/x.js", "app.log", "src/deep.log", "dist/out.js", "dist/keep.txt", "docs/guide.md", "docs/README.md", "src/Node_Modules/y.js"];
        assert.deepEqual(files, all.filter((f) => !ig.ignores(f)).sort());
        assert.ok(files.includes("src/Node_Modules/y.js"));
    });
});

describe("the content-hash cache", () => {
    const base = { Dockerfile: "FROM scratch\nCOPY . /app\n", ".dockerignore": "node_modules\n", "src/a.ts": "aaaa\n", "src/b.ts": "bbbb\n" };
    const cacheDir = (): string => fs.mkdtempSync(path.join(os.tmpdir(), "cartie-cache-"));
    // Files made by a test are seconds old at most; pretending the digest starts a minute later
    // makes them settled, so the cache is used and the stamp comparison alone is on trial.
    const later = (): { nowMs: number } => ({ nowMs: Date.now() + 60_000 });
    const uncached = async (dir: string): Promise<string> => (await contextDigest(dir, {}, undefined, { cacheDir: false })).digest;

    it("gives the digest an uncached run gives, and reads nothing the second time", async () => {
        const dir = makeTree(base);
        const cache = cacheDir();
        const first = await contextDigest(dir, {}, undefined, { cacheDir: cache, ...later() });
        assert.equal(first.hashed, 4);
        const second = await contextDigest(dir, {}, undefined, { cacheDir: cache, ...later() });
        assert.equal(second.hashed, 0);
        assert.equal(second.digest, first.digest);
        assert.equal(second.digest, await uncached(dir));
        assert.equal(second.bytes, first.bytes);
    });

    it("sees a size-preserving edit with the mtime put back (ctime and the racy rule still move)", async () => {
        const dir = makeTree(base);
        const cache = cacheDir();
        await contextDigest(dir, {}, undefined, { cacheDir: cache, ...later() });
        const file = path.join(dir, "src/a.ts");
        const st = fs.statSync(file);
        fs.writeFileSync(file, "AAAA\n");
        fs.utimesSync(file, st.atime, st.mtime);
        const after = await contextDigest(dir, {}, undefined, { cacheDir: cache, ...later() });
        assert.equal(after.hashed, 1);
        assert.equal(after.digest, await uncached(dir));
    });

    it("never stores a file changed within the racy window, so an edit in the same second is seen", async () => {
        const dir = makeTree(base);
        const cache = cacheDir();
        // Real clock: every file here was written just now, so none may be cached.
        const d0 = await contextDigest(dir, {}, undefined, { cacheDir: cache });
        fs.writeFileSync(path.join(dir, "src/b.ts"), "BBBB\n");
        const d1 = await contextDigest(dir, {}, undefined, { cacheDir: cache });
        assert.equal(d1.hashed, 4);
        assert.notEqual(d1.digest, d0.digest);
        assert.equal(d1.digest, await uncached(dir));
        assert.equal(fs.readdirSync(cache).length, 0, "nothing settled, nothing written");
        const now = Date.now();
        assert.equal(isSettled({ size: 1, mtimeMs: now - 10_000, ctimeMs: now - 1000, ino: 1, dev: 1 }, now), false);
        assert.equal(isSettled({ size: 1, mtimeMs: now - 10_000, ctimeMs: now - 10_000, ino: 1, dev: 1 }, now), true);
    });

    it("drops deleted files and sees added ones", async () => {
        const dir = makeTree(base);
        const cache = cacheDir();
        await contextDigest(dir, {}, undefined, { cacheDir: cache, ...later() });
        fs.rmSync(path.join(dir, "src/b.ts"));
        writeTree(dir, { "src/c.ts": "cccc\n" });
        const after = await contextDigest(dir, {}, undefined, { cacheDir: cache, ...later() });
        assert.equal(after.digest, await uncached(dir));
        assert.equal(after.files, 4);
        assert.equal(after.hashed, 1);
    });

    it("reuses a directory's listing only while the directory is unchanged: renames and new folders are seen", async () => {
        const dir = makeTree({ ...base, "src/deep/d.ts": "dddd\n" });
        const cache = cacheDir();
        await contextDigest(dir, {}, undefined, { cacheDir: cache, ...later() });
        fs.renameSync(path.join(dir, "src/deep/d.ts"), path.join(dir, "src/deep/e.ts"));
        writeTree(dir, { "src/new/f.ts": "ffff\n" });
        const after = await contextDigest(dir, {}, undefined, { cacheDir: cache, ...later() });
        assert.equal(after.digest, await uncached(dir));
        assert.equal(after.files, 6);
    });

    it("does not reuse listings decided under other .dockerignore patterns", async () => {
        const dir = makeTree({ ...base, ".dockerignore": "node_modules\n*.log\n", "debug.log": "l\n" });
        const cache = cacheDir();
        const before = await contextDigest(dir, {}, undefined, { cacheDir: cache, ...later() });
        // Rewriting a file leaves its directory's stamps as they were: only the patterns changed.
        fs.writeFileSync(path.join(dir, ".dockerignore"), "node_modules\n");
        const after = await contextDigest(dir, {}, undefined, { cacheDir: cache, ...later() });
        assert.equal(after.files, before.files + 1, "debug.log is sent now");
        assert.equal(after.digest, await uncached(dir));
    });

    it("reads no directory again when nothing changed", async () => {
        const dir = makeTree({ ...base, "src/deep/d.ts": "dddd\n" });
        const cache = cacheDir();
        await contextDigest(dir, {}, undefined, { cacheDir: cache, ...later() });
        // The fs module object itself (import namespaces are read-only views of it).
        const realFs = createRequire(__filename)("node:fs") as { readdirSync: typeof fs.readdirSync };
        const readdir = realFs.readdirSync;
        let reads = 0;
        realFs.readdirSync = ((...a: Parameters<typeof fs.readdirSync>) => {
            reads++;
            return readdir(...a);
        }) as typeof fs.readdirSync;
        try {
            const again = await contextDigest(dir, {}, undefined, { cacheDir: cache, ...later() });
            assert.equal(again.hashed, 0);
            assert.equal(reads, 0, "a directory was read although its stamps were unchanged");
        } finally {
            realFs.readdirSync = readdir;
        }
    });

    it("ignores a corrupt, truncated, forged or foreign cache file and rewrites it", async () => {
        const dir = makeTree(base);
        const cache = cacheDir();
        const good = await contextDigest(dir, {}, undefined, { cacheDir: cache, ...later() });
        const [name] = fs.readdirSync(cache);
        const file = path.join(cache, name);
        const bytes = fs.readFileSync(file);
        const bodyAt = bytes.indexOf(10) + 1;
        // A well-formed but wrong hash: one byte of the first stored sha256 changed (they follow
        // the stamps, 40 bytes per entry), rejected by the header's checksum, not trusted.
        const entries = 4 + 2; // four files, two directories
        const forged = Buffer.from(bytes);
        forged[bodyAt + entries * 40] ^= 0xff;
        const foreign = Buffer.from(bytes.toString("latin1").replace(fs.realpathSync(dir), "/elsewhere"), "latin1");
        for (const bad of [Buffer.alloc(0), Buffer.from("garbage"), bytes.subarray(0, bytes.length - 20), forged, foreign]) {
            fs.writeFileSync(file, bad);
            const d = await contextDigest(dir, {}, undefined, { cacheDir: cache, ...later() });
            assert.equal(d.digest, good.digest);
            assert.equal(d.hashed, 4, "every file read again");
            assert.deepEqual(fs.readFileSync(file), bytes, "rewritten whole");
        }
    });

    it("finds an edit among 1,500 cached files and reads only it", async () => {
        const files: Record<string, string> = { Dockerfile: "FROM scratch\n", ".dockerignore": "node_modules\n" };
        for (let i = 0; i < 1500; i++) files[`src/m${i % 17}/f${i}.ts`] = `export const v${i} = ${i};\n`;
        const dir = makeTree(files);
        const cache = cacheDir();
        const first = await contextDigest(dir, {}, undefined, { cacheDir: cache, ...later() });
        assert.equal(first.hashed, 1502);
        const file = path.join(dir, "src/m3/f700.ts");
        const st = fs.statSync(file);
        fs.writeFileSync(file, "export const v700 = 7;\n".padEnd(st.size, " "));
        fs.utimesSync(file, st.atime, st.mtime);
        const after = await contextDigest(dir, {}, undefined, { cacheDir: cache, ...later() });
        assert.equal(after.hashed, 1);
        assert.notEqual(after.digest, first.digest);
        assert.equal(after.digest, await uncached(dir));
    });

    it("refuses a cache directory inside the context", async () => {
        const dir = makeTree(base);
        const d = await contextDigest(dir, {}, undefined, { cacheDir: path.join(dir, ".cache"), ...later() });
        assert.equal(d.digest, await uncached(dir));
        assert.equal(fs.existsSync(path.join(dir, ".cache")), false);
        assert.equal(HashCache.open(dir, path.join(dir, "x")).file, undefined);
    });

    it("hashes on worker threads the same as inline, for a context big enough to start them", async () => {
        const files: Record<string, string> = { Dockerfile: "FROM scratch\n", ".dockerignore": "node_modules\n" };
        for (let i = 0; i < 4100; i++) files[`src/m${i % 31}/f${i}.ts`] = `export const v${i} = ${i};\n`;
        const dir = makeTree(files);
        const big = await contextDigest(dir, {}, undefined, { cacheDir: false });
        assert.equal(big.files, 4102);
        // The inline path (a listing small enough never to start workers) over the same entries:
        const h = await import("node:crypto");
        const lines = listContext(dir).entries.map((e) => {
            if (e.kind === "dir") return `${e.rel}\0dir\n`;
            const data = fs.readFileSync(path.join(dir, e.rel));
            return `${e.rel}\0file\0-\0${data.length}\0${h.createHash("sha256").update(data).digest("hex")}\n`;
        });
        const expected = h.createHash("sha256").update(lines.join("")).update("args\0[]").digest("hex");
        assert.equal(big.digest, expected);
    });
});
