/**
 * Just enough of a `schema.prisma` to name things the way the api's code does: which model maps to
 * which table (`@@map`), which field to which column (`@map`), and where each model's block is in
 * the text (for the proposal's surgical edits). Not a Prisma parser: Prisma itself (`migrate diff`,
 * `db pull`) decides what the schema means; this only reads names from it.
 */

export interface PrismaField {
    name: string;
    /** The type as written, `String?`, `Session[]`, `GlobalUser`. */
    type: string;
    /** The database column (`@map("x")`, else the field's name); undefined for a relation field. */
    column?: string;
    /** The whole line as written, without its trailing comment. */
    line: string;
}

export interface PrismaModel {
    name: string;
    /** `@@map("users")`, else the model's name. */
    table: string;
    fields: PrismaField[];
    /** `@@index(…)`, `@@unique(…)`, `@@id(…)`, `@@map(…)` lines as written. */
    blockAttributes: string[];
    /** Line numbers (0-based) of `model X {` and of its closing `}` in the text. */
    startLine: number;
    endLine: number;
}

export interface PrismaEnum {
    name: string;
    /** `@@map("x")`, else the enum's name. */
    dbName: string;
}

export interface PrismaSchemaInfo {
    models: PrismaModel[];
    enums: PrismaEnum[];
}

const SCALARS = new Set(["String", "Boolean", "Int", "BigInt", "Float", "Decimal", "DateTime", "Json", "Bytes", "Unsupported"]);

function stripComment(line: string): string {
    // `//` outside a string literal starts a comment (Prisma strings are double-quoted, no multi-line).
    let inString = false;
    for (let i = 0; i < line.length; i++) {
        const ch = line[i];
        if (ch === '"' && line[i - 1] !== "\\") inString = !inString;
        else if (!inString && ch === "/" && line[i + 1] === "/") return line.slice(0, i);
    }
    return line;
}

export function parsePrismaSchema(text: string): PrismaSchemaInfo {
    const lines = text.split(/\r?\n/);
    const models: PrismaModel[] = [];
    const enums: PrismaEnum[] = [];
    const enumNames = new Set<string>();
    for (const l of lines) {
        const m = /^\s*enum\s+(\w+)\s*\{/.exec(stripComment(l));
        if (m) enumNames.add(m[1]);
    }
    for (let i = 0; i < lines.length; i++) {
        const head = /^\s*(model|enum|view)\s+(\w+)\s*\{/.exec(stripComment(lines[i]));
        if (!head) continue;
        let end = i + 1;
        while (end < lines.length && !/^\s*\}/.test(stripComment(lines[end]))) end++;
        const body = lines.slice(i + 1, end).map(stripComment);
        const mapped = body.map((b) => /^\s*@@map\(\s*"([^"]+)"\s*\)/.exec(b)).find((x) => x !== null);
        if (head[1] === "enum") {
            enums.push({ name: head[2], dbName: mapped ? mapped[1] : head[2] });
        } else {
            const fields: PrismaField[] = [];
            const blockAttributes: string[] = [];
            for (const b of body) {
                const t = b.trim();
                if (t === "") continue;
                if (t.startsWith("@@")) {
                    blockAttributes.push(t);
                    continue;
                }
                const f = /^(\w+)\s+([\w.]+(?:\(.*?\))?(?:\[\])?\??)(.*)$/.exec(t);
                if (!f) continue;
                const baseType = f[2].replace(/[?[\]]/g, "");
                const isRelation = !SCALARS.has(baseType.replace(/\(.*$/, "")) && !enumNames.has(baseType);
                const columnMap = /@map\(\s*"([^"]+)"\s*\)/.exec(f[3]);
                fields.push({ name: f[1], type: f[2], ...(isRelation ? {} : { column: columnMap ? columnMap[1] : f[1] }), line: t });
            }
            models.push({ name: head[2], table: mapped ? mapped[1] : head[2], fields, blockAttributes, startLine: i, endLine: end });
        }
        i = end;
    }
    return { models, enums };
}

/** The model that maps to `table`, if any. */
export function modelOfTable(info: PrismaSchemaInfo, table: string): PrismaModel | undefined {
    return info.models.find((m) => m.table === table);
}

/** `GlobalUser.role` for column `role` of table `users`, or undefined when no model has it. */
export function fieldOfColumn(info: PrismaSchemaInfo, table: string, column: string): string | undefined {
    const model = modelOfTable(info, table);
    const field = model?.fields.find((f) => f.column === column);
    return model && field ? `${model.name}.${field.name}` : undefined;
}

/** `model GlobalUser (table users)`, or `table users` when no model maps to it. */
export function describeTable(info: PrismaSchemaInfo | undefined, table: string): string {
    const model = info ? modelOfTable(info, table) : undefined;
    return model ? `model ${model.name} (table ${table})` : `table ${table}`;
}
