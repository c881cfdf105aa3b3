/**
 * Model drift: `schema.prisma` against the migrations, decided by Prisma itself:
 * `prisma migrate diff --from-migrations prisma/migrations --to-schema-datamodel prisma/schema.prisma
 * --exit-code` (exit 0: they agree, 2: they differ, 1: it could not tell), which builds the
 * migrations in a shadow database Prisma creates and drops on the server of DATABASE_URL (the
 * sample's prisma.config.ts adapter; verified with Prisma 6.19.3 on PostgreSQL 15, see
 * /work/shared/README.md). Its summary names tables; this module names the models that map to
 * them and the migration that is missing, with the SQL Prisma would put in it (`--script`).
 *
 * The Prisma process is the caller's (a runner): the host's Prisma in tests, a throwaway
 * container of the api image in `pulumi preview`/`up`, `npm run drift` and the doctor.
 */
import { describeTable, parsePrismaSchema, PrismaSchemaInfo } from "./prismaSchema";
import { nextMigrationName } from "./propose";

export interface PrismaRun {
    code: number;
    stdout: string;
    stderr: string;
}

/** Paths as Prisma sees them from the api folder (the image's WORKDIR). */
export const MODEL_DIFF_ARGS = ["migrate", "diff", "--from-migrations", "prisma/migrations", "--to-schema-datamodel", "prisma/schema.prisma"];
export const SUMMARY_ARGS = [...MODEL_DIFF_ARGS, "--exit-code"];
export const SCRIPT_ARGS = [...MODEL_DIFF_ARGS, "--script"];

export interface ModelChange {
    /** The table (or enum) Prisma names. */
    table: string;
    /** The model (or enum) mapping to it, when schema.prisma has one. */
    model?: string;
    /** Set when `model` is an enum. */
    isEnum?: boolean;
    /** Prisma's own lines, `Added column \`nickname\``. */
    changes: string[];
}

export type ModelCheck =
    | { status: "clean" }
    | { status: "drift"; changes: ModelChange[]; sql: string; migration: string; message: string }
    | { status: "unknown"; reason: string };

/**
 * Prisma's summary (`[+] Added tables`, `[*] Changed the \`users\` table`, `  [+] Added column \`x\``)
 * as changes per table; anything it prints that this does not know stays in a catch-all entry.
 */
export function parseModelDiff(summary: string): ModelChange[] {
    const out: ModelChange[] = [];
    let list: string | undefined;
    let current: ModelChange | undefined;
    const other: string[] = [];
    for (const raw of summary.split(/\r?\n/)) {
        const line = raw.trimEnd();
        if (line.trim() === "" || /^(Loaded Prisma config|Prisma config detected|WARNING|The values from|We recommend|- url$)/.test(line.trim())) continue;
        let m: RegExpExecArray | null;
        if ((m = /^\[([+\-*])\] (Added|Removed) (tables|enums|views)$/.exec(line))) {
            list = `${m[2]} ${m[3].replace(/s$/, "")}`;
            current = undefined;
        } else if ((m = /^\[\*\] Changed the `([^`]+)` (table|enum|view)$/.exec(line))) {
            list = undefined;
            current = { table: m[1], changes: [] };
            out.push(current);
        } else if (list && (m = /^\s+- (.+)$/.exec(line))) {
            out.push({ table: m[1], changes: [list] });
        } else if (current && (m = /^\s+\[[+\-*]\] (.+)$/.exec(line))) {
            current.changes.push(m[1]);
        } else if (!/^No difference detected/.test(line.trim())) {
            other.push(line.trim());
        }
    }
    if (other.length > 0 && out.length === 0) out.push({ table: "(schema)", changes: other });
    return out;
}

export function nameModels(changes: ModelChange[], info: PrismaSchemaInfo): ModelChange[] {
    return changes.map((c) => {
        const model = info.models.find((m) => m.table === c.table || m.name === c.table)?.name;
        if (model) return { ...c, model };
        const e = info.enums.find((x) => x.dbName === c.table)?.name;
        return e ? { ...c, model: e, isEnum: true } : c;
    });
}

/** `v43_update_globaluser_session`: the name the missing migration gets in the message. */
export function missingMigrationName(existing: string[], changes: ModelChange[]): string {
    const subjects = [...new Set(changes.map((c) => (c.model ?? c.table).toLowerCase().replace(/[^a-z0-9]+/g, "_")))].slice(0, 3);
    return nextMigrationName(existing, `update_${subjects.join("_") || "schema"}`);
}

export function modelDriftMessage(changes: ModelChange[], sql: string, migration: string, apiDir: string): string {
    const lines = [
        "schema.prisma and the migrations disagree (model drift): an api built from this source would expect a schema no migration creates.",
        ...changes.map((c) => `  - ${c.model ? `${c.isEnum ? "enum" : "model"} ${c.model} (${c.table})` : describeTable(undefined, c.table)}: ${c.changes.join("; ")}`),
        `missing migration: ${apiDir}/prisma/migrations/${migration}/migration.sql; Prisma writes it with`,
        `  npx prisma migrate diff --from-migrations prisma/migrations --to-schema-datamodel prisma/schema.prisma --script > prisma/migrations/${migration}/migration.sql`,
        "  (in the api folder, DATABASE_URL set for its shadow database), or undo the schema.prisma change.",
    ];
    const body = sql
        .split(/\r?\n/)
        .filter((l) => l.trim() !== "")
        .map((l) => `    ${l}`);
    if (body.length > 0) lines.push("  It would contain:", ...body);
    return lines.join("\n");
}

/** From the two Prisma runs to the verdict. */
export function interpretModelDiff(summary: PrismaRun, script: PrismaRun | undefined, schemaText: string, migrations: string[], apiDir: string): ModelCheck {
    if (summary.code === 0) return { status: "clean" };
    if (summary.code !== 2) return { status: "unknown", reason: `prisma migrate diff failed (exit ${summary.code}): ${lastLines(`${summary.stdout}\n${summary.stderr}`)}` };
    const changes = nameModels(parseModelDiff(summary.stdout), parsePrismaSchema(schemaText));
    const sql = script && script.code === 0 ? script.stdout.trim() : "";
    const migration = missingMigrationName(migrations, changes);
    return { status: "drift", changes, sql, migration, message: modelDriftMessage(changes, sql, migration, apiDir) };
}

export function lastLines(text: string, n: number = 4): string {
    return text
        .split(/\r?\n/)
        .map((l) => l.trim())
        .filter((l) => l !== "" && !/^(Loaded Prisma config|Prisma config detected|WARNING: Your schema|The values from|We recommend|- url$)/.test(l))
        .slice(-n)
        .join(" | ");
}

/** Runs the check with an async Prisma runner. */
export async function checkModel(run: (args: string[]) => Promise<PrismaRun>, schemaText: string, migrations: string[], apiDir: string): Promise<ModelCheck> {
    const summary = await run(SUMMARY_ARGS);
    const script = summary.code === 2 ? await run(SCRIPT_ARGS) : undefined;
    return interpretModelDiff(summary, script, schemaText, migrations, apiDir);
}

/** The same with a synchronous runner (the Pulumi program is evaluated synchronously). */
export function checkModelSync(run: (args: string[]) => PrismaRun, schemaText: string, migrations: string[], apiDir: string): ModelCheck {
    const summary = run(SUMMARY_ARGS);
    const script = summary.code === 2 ? run(SCRIPT_ARGS) : undefined;
    return interpretModelDiff(summary, script, schemaText, migrations, apiDir);
}
