import { strict as assert } from "node:assert";
import * as path from "node:path";
import dockerignore from "@balena/dockerignore";
import { ContextMatcher, newDockerignore, requiredSuffix } from "../../../lib/build/dockerignoreMatch";

// A small deterministic generator, so a failure names a reproducible case.
function rng(seed: number): () => number {
    let x = seed >>> 0;
    return () => {
        x = (Math.imul(x ^ (x >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0;
        return x / 2 ** 32;
    };
}

const SEGMENTS = ["src", "dist", "Dist", "node_modules", "a", "b.ts", "b.tsx", "x.log", ".env", ".env.local", "docs", "keep.txt", "deep", "README.md", "a+b", "aab", "(x)", "x"];
const PATTERNS = [
    "dist", "**/dist", "node_modules", "**/node_modules", "*.log", "**/*.log", ".env", ".env.*", "**/.env", "docs/**", "!docs/README.md",
    "src/*/b.ts", "!**/keep.txt", "/a", "a/", "deep/**/x.log", "?", "src/??", "**", "!src", "[ab]", "src/[!a]*", "*/dist/**", "!dist/keep.txt",
    // Regexp syntax the library passes through, escapes, and literal tails (the suffix pre-test):
    "a+b", "**/a+b", "(x)", "*.ts", "**/b.ts", "src/b.ts", "x\\.log", "b.t?", "**/deep/**", "deep/x.log", "!**/b.ts", "a/**/b.ts",
];

describe("the .dockerignore matcher", () => {
    it("decides every path as the library itself does, directory by directory (6,000 generated cases)", () => {
        const next = rng(7);
        const pick = <T>(xs: T[]): T => xs[Math.floor(next() * xs.length)];
        for (let round = 0; round < 600; round++) {
            const patterns = Array.from({ length: 1 + Math.floor(next() * 6) }, () => pick(PATTERNS));
            const lib = newDockerignore(patterns);
            const matcher = new ContextMatcher(patterns);
            for (let k = 0; k < 10; k++) {
                const rel = Array.from({ length: 1 + Math.floor(next() * 4) }, () => pick(SEGMENTS)).join("/");
                const dir = path.posix.dirname(rel);
                const ours = matcher.forDirectory(dir === "." ? "" : dir)(rel);
                assert.equal(ours, lib.ignores(rel), `patterns ${JSON.stringify(patterns)}, path ${rel}`);
            }
        }
    });

    it("is case-sensitive as Docker is: **/dist does not drop src/Dist, which docker build sends", () => {
        const matcher = new ContextMatcher(["**/dist", "*.log"]);
        assert.equal(matcher.forDirectory("src")("src/Dist"), false);
        assert.equal(matcher.forDirectory("src")("src/dist"), true);
        assert.equal(matcher.forDirectory("")("DEBUG.LOG"), false);
        // The library's default would have dropped it: the reason for ignorecase: false.
        assert.equal(dockerignore().add(["**/dist"]).ignores("src/Dist"), true);
    });
});

describe("the matcher's suffix pre-test", () => {
    it("names the literal a pattern's matches end with, and nothing when the tail is not plain", () => {
        assert.equal(requiredSuffix("**/node_modules"), "node_modules");
        assert.equal(requiredSuffix("*.log"), ".log");
        assert.equal(requiredSuffix("deep/**/x.log"), "x.log");
        assert.equal(requiredSuffix("src/b.ts"), "src/b.ts");
        assert.equal(requiredSuffix("docs/**"), "");
        assert.equal(requiredSuffix("a+b"), "", "+ is regexp syntax in the library's output");
        assert.equal(requiredSuffix("x\\.log"), ".log");
    });
});
