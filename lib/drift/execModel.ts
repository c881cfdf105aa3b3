/**
 * The model check for the doctor, which starts no container and makes only read calls to Docker
 * (test/real/doctor/hostShapes.test.ts holds it to that): Prisma runs through `docker exec` in a
 * running api container of the stack, on a copy of the working tree's `prisma/` folder sent on
 * stdin as a tar (tar-stream) and unpacked into a temporary folder of the container, removed when
 * Prisma is done. Prisma's shadow database is created and dropped on the live server through the
 * container's own DATABASE_URL, as the live check's scratch databases are.
 */
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import * as tar from "tar-stream";
import { docker } from "../docker/cli";
import { checkModel, ModelCheck, PrismaRun } from "./model";

/** The working tree's schema.prisma, migration_lock.toml and migrations, as a tar under `prisma/`. */
export async function packPrisma(prismaDir: string): Promise<Buffer> {
    const pack = tar.pack();
    const chunks: Buffer[] = [];
    pack.on("data", (c: unknown) => chunks.push(c as Buffer));
    const done = new Promise<void>((resolve, reject) => {
        pack.on("end", () => resolve());
        pack.on("error", reject);
    });
    const add = (rel: string): void => {
        const abs = path.join(prismaDir, rel);
        const st = fs.statSync(abs);
        if (st.isDirectory()) {
            pack.entry({ name: `prisma/${rel}/`, type: "directory", mode: 0o755 });
            for (const e of fs.readdirSync(abs).sort()) add(path.posix.join(rel, e));
        } else if (st.isFile()) pack.entry({ name: `prisma/${rel}`, mode: 0o644 }, fs.readFileSync(abs));
    };
    pack.entry({ name: "prisma/", type: "directory", mode: 0o755 });
    for (const e of ["schema.prisma", "migrations"]) if (fs.existsSync(path.join(prismaDir, e))) add(e);
    pack.finalize();
    await done;
    return Buffer.concat(chunks);
}

function execWithInput(args: string[], input: Buffer, timeoutMs: number): Promise<PrismaRun> {
    return new Promise((resolve) => {
        const child = spawn("docker", args, { stdio: ["pipe", "pipe", "pipe"], timeout: timeoutMs });
        let stdout = "";
        let stderr = "";
        child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
        child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
        child.on("error", (err) => resolve({ code: 127, stdout, stderr: err.message }));
        child.on("close", (code) => resolve({ code: code ?? 1, stdout, stderr }));
        child.stdin.on("error", () => undefined);
        child.stdin.end(input);
    });
}

/** Which flags of `prisma migrate diff` the doctor runs (paths are the unpacked copy's). */
const SUFFIX: Record<string, string> = { "--exit-code": "--exit-code", "--script": "--script" };

/** The check in a running api container (its WORKDIR has prisma.config.ts and the Prisma CLI). */
export async function checkModelInContainer(container: string, prismaDir: string, schemaText: string, migrations: string[], displayApiDir: string): Promise<ModelCheck> {
    const inspect = await docker(["inspect", "--type", "container", "--format", "{{.Config.WorkingDir}}", container]);
    if (inspect.code !== 0) return { status: "unknown", reason: `docker inspect ${container} failed: ${inspect.stderr.trim()}` };
    const workdir = inspect.stdout.trim() || "/app";
    const node = await docker(["exec", container, "node", "--version"]);
    const major = Number(/^v(\d+)/.exec(node.stdout.trim())?.[1] ?? "0");
    // See lib/drift/sandbox.ts: adapter-pg 6.19.3 needs globalThis.crypto, which Node 18 has only with this flag.
    const nodeOptions = major > 0 && major < 19 ? ["-e", "NODE_OPTIONS=--experimental-global-webcrypto"] : [];
    const tarball = await packPrisma(prismaDir);
    const run = (args: string[]): Promise<PrismaRun> => {
        const flag = SUFFIX[args[args.length - 1]] ?? "--exit-code";
        const script = `d=$(mktemp -d) && tar -x -C "$d" && npx --no-install prisma migrate diff --from-migrations "$d/prisma/migrations" --to-schema-datamodel "$d/prisma/schema.prisma" ${flag}; rc=$?; rm -rf "$d"; exit $rc`;
        return execWithInput(["exec", "-i", "-w", workdir, "-e", "CHECKPOINT_DISABLE=1", "-e", "PRISMA_HIDE_UPDATE_MESSAGE=1", ...nodeOptions, container, "sh", "-c", script], tarball, 180_000);
    };
    return checkModel(run, schemaText, migrations, displayApiDir);
}
