import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { PACK_DIR } from "./analyzer";

const REPO = path.resolve(PACK_DIR, "..");

export interface PackCopy {
    /** The copied pack's folder (what `--policy-pack` names). */
    packDir: string;
    /** The pack's own `node_modules`, when the copy has one. */
    ownModules?: string;
    remove(): void;
}

/**
 * A copy of the pack in a temporary folder laid out like the repository (the rules import `../lib`,
 * the project's packages are one folder up), with or without the pack's own `node_modules`.
 * `ownModules` holds real copies of the pack's dependencies as `npm install` in `policies/` leaves
 * them (copies, not links: Node would resolve a link to the project's package and load one copy).
 */
export function copyPack(opts: { ownModules: boolean }): PackCopy {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), "cartie-pack-"));
    const packDir = path.join(root, "policies");
    fs.cpSync(PACK_DIR, packDir, { recursive: true, filter: (src) => path.relative(PACK_DIR, src).split(path.sep)[0] !== "node_modules" });
    fs.symlinkSync(path.join(REPO, "lib"), path.join(root, "lib"));
    fs.symlinkSync(path.join(REPO, "node_modules"), path.join(root, "node_modules"));
    let ownModules: string | undefined;
    if (opts.ownModules) {
        ownModules = path.join(packDir, "node_modules");
        const manifest = JSON.parse(fs.readFileSync(path.join(PACK_DIR, "package.json"), "utf8")) as { dependencies?: Record<string, string> };
        for (const dep of Object.keys(manifest.dependencies ?? {})) {
            fs.cpSync(path.join(REPO, "node_modules", dep), path.join(ownModules, dep), { recursive: true, dereference: true });
        }
    }
    return { packDir, ownModules, remove: () => fs.rmSync(root, { recursive: true, force: true }) };
}
