import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

/**
 * Synthetic monorepo for the benchmark, generated under os.tmpdir() and reused across runs:
 * `<root>/monorepo/apps/api` is the sample api (its real Dockerfile and .dockerignore) plus
 * `src/generated/**` (the included files) beside an excluded `node_modules` and `dist`;
 * `<root>/monorepo/apps/web` is the sample web app. Nothing is ever written into the repo.
 */
export interface GenOptions {
    /** Included files added to the api context. */
    files: number;
    /** Their total size in MiB (sizes are exponentially distributed around the mean). */
    mb: number;
    /** Files in the excluded `node_modules` beside them. */
    excluded: number;
}

export interface Generated {
    root: string;
    monorepo: string;
    api: string;
    /** Paths (relative to the api context) of the generated included files, for the touch step. */
    sample: string[];
    created: boolean;
}

/** Small deterministic PRNG (mulberry32), so the same options give the same layout. */
function prng(seed: number): () => number {
    let a = seed >>> 0;
    return () => {
        a = (a + 0x6d2b79f5) >>> 0;
        let t = a;
        t = Math.imul(t ^ (t >>> 15), t | 1);
        t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
        return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
}

const REPO = path.resolve(__dirname, "..");
const FORMAT = 2;

function copyApp(from: string, to: string): void {
    fs.cpSync(from, to, { recursive: true, filter: (src) => !["node_modules", "dist"].includes(path.basename(src)) });
}

function generatedPath(i: number): string {
    // ~50 files a directory, two levels: what a real src tree looks like to readdir.
    const dir = Math.floor(i / 50);
    return `src/generated/m${String(Math.floor(dir / 20)).padStart(3, "0")}/s${String(dir % 20).padStart(2, "0")}/f${String(i % 50).padStart(2, "0")}.ts`;
}

export function generate(opts: GenOptions, log: (s: string) => void = () => undefined): Generated {
    const key = `f${opts.files}-mb${opts.mb}-x${opts.excluded}-v${FORMAT}`;
    const root = path.join(os.tmpdir(), "cartie-bench", key);
    const monorepo = path.join(root, "monorepo");
    const api = path.join(monorepo, "apps", "api");
    const marker = path.join(root, "complete.json");
    const sample = Array.from({ length: Math.min(opts.files, 64) }, (_, i) => generatedPath(Math.floor((i * opts.files) / Math.min(opts.files, 64))));
    if (fs.existsSync(marker)) return { root, monorepo, api, sample, created: false };

    log(`generating ${key} under ${root} (once; reused by later runs)`);
    fs.rmSync(root, { recursive: true, force: true });
    fs.mkdirSync(path.join(monorepo, "apps"), { recursive: true });
    copyApp(path.join(REPO, "examples/cartie/apps/api"), api);
    copyApp(path.join(REPO, "examples/cartie/apps/web"), path.join(monorepo, "apps", "web"));

    const rand = prng(42);
    const pool = crypto.randomBytes(8 << 20);
    const mean = (opts.mb * 1024 * 1024) / Math.max(opts.files, 1);
    const madeDirs = new Set<string>();
    const write = (abs: string, size: number): void => {
        const dir = path.dirname(abs);
        if (!madeDirs.has(dir)) {
            fs.mkdirSync(dir, { recursive: true });
            madeDirs.add(dir);
        }
        const size0 = Math.min(size, pool.length);
        const off = Math.floor(rand() * (pool.length - size0));
        fs.writeFileSync(abs, pool.subarray(off, off + size0));
    };
    for (let i = 0; i < opts.files; i++) {
        // Exponential sizes around the mean, capped at 32x it: many small sources, a few large assets.
        const size = Math.min(Math.round(-Math.log(1 - rand()) * mean), Math.round(mean * 32));
        write(path.join(api, generatedPath(i)), size);
    }
    for (let i = 0; i < opts.excluded; i++) {
        const pkg = Math.floor(i / 20);
        write(path.join(api, `node_modules/pkg${pkg}/lib/f${i % 20}.js`), 200 + Math.floor(rand() * 1800));
    }
    for (let i = 0; i < 500; i++) write(path.join(api, `dist/chunk${i}.js`), 4096);
    fs.writeFileSync(path.join(api, ".env"), "JWT_SECRET=not-for-the-image\n");
    fs.writeFileSync(marker, JSON.stringify({ ...opts, created: new Date().toISOString() }));
    return { root, monorepo, api, sample, created: true };
}
