import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

/** Writes a file tree (path → content) into a fresh temp directory and returns its path. */
export function makeTree(files: Record<string, string>, prefix = "cartie-tree-"): string {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
    writeTree(root, files);
    return root;
}

export function writeTree(root: string, files: Record<string, string>): void {
    for (const [rel, content] of Object.entries(files)) {
        const abs = path.join(root, rel);
        fs.mkdirSync(path.dirname(abs), { recursive: true });
        fs.writeFileSync(abs, content);
    }
}

/** Copies a tree, skipping directories by name (e.g. node_modules), like a fresh checkout would have it. */
export function copyTree(from: string, to: string, skip: string[] = ["node_modules", "dist"]): void {
    fs.cpSync(from, to, { recursive: true, filter: (src) => !skip.includes(path.basename(src)) });
}
