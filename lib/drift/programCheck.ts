/**
 * The model check where `pulumi preview` and `pulumi up` run it: in the program, before any
 * resource is registered (components/program.ts), so a schema.prisma changed without a migration
 * stops both before any image is built, naming the model and the missing migration. Preview runs
 * the program too and runs no resource, which is why neither a command resource (it only runs in
 * `up`) nor the policy pack (it sees inputs, not the app's files, and cannot run Prisma) would do.
 *
 * Prisma comes from the stack's newest api image (lib/drift/sandbox.ts): on the very first
 * restore there is none yet, and the check says it was skipped. A clean result is remembered
 * (keyed on schema.prisma, prisma.config.ts, the api's lockfile, the db image and every
 * migration), so an unchanged schema costs nothing on the next preview, whatever else changed.
 */
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { PlatformConfig } from "../config";
import { readMigrations } from "./files";
import { checkModelSync, ModelCheck } from "./model";
import { newestImage, PrismaSandbox } from "./sandbox";

export class ModelDriftError extends Error {
    constructor(message: string) {
        super(message);
        this.name = "ModelDriftError";
    }
}

/** Where clean results are remembered: next to the build-context digest cache, under the project's node_modules. */
export function modelCheckCacheDir(projectDir: string): string {
    return process.env.CARTIE_MODEL_CHECK_CACHE_DIR || path.join(projectDir, "node_modules", ".cache", "cartie", "model-check");
}

export interface GuardOptions {
    projectDir: string;
    /** How the program tells the person what happened (pulumi.log.info / warn). */
    info: (message: string) => void;
    warn: (message: string) => void;
}

/** Throws ModelDriftError when schema.prisma and the migrations disagree; logs why when it cannot tell. */
export function guardModel(cfg: Pick<PlatformConfig, "appRoot" | "appRootAbs" | "namePrefix" | "postgresImage">, o: GuardOptions): ModelCheck | undefined {
    const apiDir = path.join(cfg.appRootAbs, "apps/api");
    const display = path.posix.join(cfg.appRoot, "apps/api");
    const schemaFile = path.join(apiDir, "prisma", "schema.prisma");
    const migrationsDir = path.join(apiDir, "prisma", "migrations");
    if (!fs.existsSync(schemaFile) || !fs.existsSync(migrationsDir)) return undefined;
    const schemaText = fs.readFileSync(schemaFile, "utf8");
    const migrations = readMigrations(migrationsDir);
    const image = newestImage([`${cfg.namePrefix}-api-migrator`, `${cfg.namePrefix}-api`]);
    if (!image) {
        o.info(`model check (schema.prisma against the migrations) skipped: no api image of this stack to run Prisma from yet; \`npm run drift\` runs it once \`pulumi up\` has built one`);
        return undefined;
    }
    // Not the image: a new api release is a new image with the same Prisma; its lockfile says which Prisma.
    const read = (f: string): string => (fs.existsSync(path.join(apiDir, f)) ? fs.readFileSync(path.join(apiDir, f), "utf8") : "");
    const key = crypto
        .createHash("sha256")
        .update(JSON.stringify([cfg.postgresImage, schemaText, read("prisma.config.ts"), read("package-lock.json"), migrations]))
        .digest("hex");
    const cacheFile = path.join(modelCheckCacheDir(o.projectDir), key);
    if (fs.existsSync(cacheFile)) return { status: "clean" };

    let box: PrismaSandbox;
    try {
        box = PrismaSandbox.open({ prefix: cfg.namePrefix, prismaImage: image.ref, postgresImage: cfg.postgresImage, apiDir });
    } catch (err) {
        o.warn(`model check (schema.prisma against the migrations) could not run: ${(err as Error).message}`);
        return undefined;
    }
    let result: ModelCheck;
    try {
        result = checkModelSync((args) => box.prisma(args), schemaText, migrations.map((m) => m.name), display);
    } finally {
        box.close();
    }
    if (result.status === "drift") throw new ModelDriftError(`${result.message}\nNothing was built or changed.`);
    if (result.status === "unknown") {
        o.warn(`model check (schema.prisma against the migrations) could not tell: ${result.reason}`);
        return result;
    }
    try {
        fs.mkdirSync(path.dirname(cacheFile), { recursive: true });
        fs.writeFileSync(cacheFile, `${new Date().toISOString()} clean ${image.ref}\n`);
    } catch {
        // Only a hint: the next preview checks again.
    }
    return result;
}
