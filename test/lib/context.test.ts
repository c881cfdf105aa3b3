import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as path from "node:path";
import { BuildContextError, contentTag, contextDigest, guardBuildContext, listContext, migrationsHash, missingExclusions, parseDockerignore } from "../../lib/context";
import { makeTree, writeTree } from "../support/tree";

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
        for (const app of ["api", "web"]) guardBuildContext(path.resolve(__dirname, `../../examples/cartie/apps/${app}`), app);
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
