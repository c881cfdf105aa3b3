/**
 * The schema.prisma half of a drift fix: Prisma's own introspection (`prisma db pull --print` of a
 * database built by the migrations plus the fix, re-introspecting the current schema.prisma so
 * model names, `@@map`s, `@default(uuid())` and relation names are kept) says what each model must
 * be; this merges that into the file surgically, line by line, so the file's comments, order and
 * everything the fix does not touch stay as they were (`db pull` itself would rewrite the whole
 * file and drop its comments; seen with Prisma 6.19.3). Pure.
 */
import { parsePrismaSchema, PrismaModel } from "./prismaSchema";

const squash = (line: string): string => line.replace(/\s+/g, " ").trim();

/** The schema with each renamed table's model mapped to its new name (`@@map("User")`), for re-introspection. */
export function applyTableRenames(text: string, renames: Record<string, string>): string {
    const info = parsePrismaSchema(text);
    const lines = text.split("\n");
    for (const model of info.models) {
        const to = renames[model.table];
        if (!to) continue;
        const mapLine = lines.findIndex((l, i) => i > model.startLine && i < model.endLine && /^\s*@@map\(/.test(l));
        if (mapLine >= 0) lines[mapLine] = lines[mapLine].replace(/@@map\(\s*"[^"]*"\s*\)/, `@@map("${to.replace(/"/g, '\\"')}")`);
        else lines.splice(model.endLine, 0, "", `  @@map("${to.replace(/"/g, '\\"')}")`);
        // Positions moved: parse again for the next model.
        return applyTableRenames(lines.join("\n"), Object.fromEntries(Object.entries(renames).filter(([k]) => k !== model.table)));
    }
    return text;
}

export interface Merge {
    text: string;
    /** One line per change, `model GlobalUser: field nickname added (nickname String? @db.VarChar(40))`. */
    changes: string[];
}

function fieldKey(f: PrismaModel["fields"][number]): string {
    return f.column !== undefined ? `column:${f.column}` : `relation:${f.name}`;
}

function trailingComment(line: string): string {
    const m = /\s(\/\/.*)$/.exec(line);
    return m ? ` ${m[1]}` : "";
}

/**
 * Merges the pulled schema into `original`: per model (matched by table), fields whose line
 * differs are replaced, fields and `@@index`/`@@unique`/`@@id` lines the pulled model has and the
 * original lacks are added; models and enums only the pulled schema has are appended. Nothing is
 * removed: what the live database lacks is never recorded.
 */
export function mergePulled(original: string, pulled: string, note: string): Merge {
    const changes: string[] = [];
    let lines = original.split("\n");
    const pulledInfo = parsePrismaSchema(pulled);
    const pulledLines = pulled.split("\n");
    const appended: string[] = [];
    for (const p of pulledInfo.models) {
        const info = parsePrismaSchema(lines.join("\n"));
        const o = info.models.find((m) => m.table === p.table);
        if (!o) {
            appended.push(pulledLines.slice(p.startLine, p.endLine + 1).join("\n"));
            changes.push(`model ${p.name}: added (table ${p.table})`);
            continue;
        }
        const edits: { at: number; remove: number; insert: string[] }[] = [];
        const fieldLineAt = (name: string): number => lines.findIndex((l, i) => i > o.startLine && i < o.endLine && new RegExp(`^\\s*${name}\\s`).test(l));
        const originalByKey = new Map(o.fields.map((f) => [fieldKey(f), f]));
        const lastField = o.fields.length > 0 ? fieldLineAt(o.fields[o.fields.length - 1].name) : o.startLine;
        const indent = /^(\s*)/.exec(lines[lastField] ?? "")?.[1] || "  ";
        const added: string[] = [];
        for (const pf of p.fields) {
            const of = originalByKey.get(fieldKey(pf));
            if (!of) {
                added.push(`${indent}${pf.line}`);
                changes.push(`model ${o.name}: field ${pf.name} added (${squash(pf.line)})`);
            } else if (squash(of.line) !== squash(pf.line)) {
                const at = fieldLineAt(of.name);
                edits.push({ at, remove: 1, insert: [`${indent}${pf.line.replace(new RegExp(`^${pf.name}\\b`), of.name)}${trailingComment(lines[at])}`] });
                changes.push(`model ${o.name}: field ${of.name} changed (${squash(of.line)} → ${squash(pf.line)})`);
            }
        }
        if (added.length > 0) edits.push({ at: lastField + 1, remove: 0, insert: added });
        const have = new Set(o.blockAttributes.map(squash));
        const newAttributes = p.blockAttributes.filter((a) => !/^@@map\(/.test(a) && !have.has(squash(a)));
        if (newAttributes.length > 0) {
            edits.push({ at: o.endLine, remove: 0, insert: newAttributes.map((a) => `${indent}${a}`) });
            for (const a of newAttributes) changes.push(`model ${o.name}: ${a} added`);
        }
        edits.sort((a, b) => b.at - a.at);
        for (const e of edits) lines.splice(e.at, e.remove, ...e.insert);
        lines = lines.join("\n").split("\n");
    }
    const originalEnums = new Set(parsePrismaSchema(original).enums.map((e) => e.dbName));
    for (const e of pulledInfo.enums) {
        if (originalEnums.has(e.dbName)) continue;
        const start = pulledLines.findIndex((l) => new RegExp(`^\\s*enum\\s+${e.name}\\s*\\{`).test(l));
        let end = start;
        while (end < pulledLines.length && !/^\s*\}/.test(pulledLines[end])) end++;
        if (start >= 0) {
            appended.push(pulledLines.slice(start, end + 1).join("\n"));
            changes.push(`enum ${e.name}: added`);
        }
    }
    let text = lines.join("\n");
    if (appended.length > 0) text = `${text.replace(/\s*$/, "")}\n\n// ${note}\n${appended.join("\n\n")}\n`;
    return { text, changes };
}
