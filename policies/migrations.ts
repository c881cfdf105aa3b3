import { ResourceValidationPolicy } from "@pulumi/policy";
import { Finding, Props, TYPES, asArray, asString, known, rule } from "./util";

/** Destructive operations, each with what it does, for the message. */
export const DESTRUCTIVE: { pattern: RegExp; what: string }[] = [
    { pattern: /\bmigrate\s+reset\b/i, what: "`migrate reset` (drops the database)" },
    { pattern: /\bmigrate\s+dev\b/i, what: "`migrate dev` (may reset the database)" },
    { pattern: /--accept-data-loss\b/i, what: "`--accept-data-loss`" },
    { pattern: /--force-reset\b/i, what: "`--force-reset`" },
    { pattern: /\bdb\s+push\b/i, what: "`db push` (schema sync without migrations)" },
    { pattern: /\b(migrate|db)[:\s]+(down|rollback|drop|reset|wipe|fresh|undo)\b/i, what: "a rollback or drop" },
    { pattern: /\bDROP\s+(TABLE|SCHEMA|DATABASE|COLUMN|OWNED|TYPE|VIEW|INDEX)\b/i, what: "a `DROP` statement" },
    { pattern: /\bTRUNCATE\b/i, what: "a `TRUNCATE` statement" },
    { pattern: /\bDELETE\s+FROM\b/i, what: "a `DELETE FROM` statement" },
    { pattern: /\bdropdb\b/i, what: "`dropdb`" },
    { pattern: /\bdocker\s+volume\s+(rm|prune)\b/i, what: "removing Docker volumes" },
];

export function destructiveOperations(command: string): string[] {
    return DESTRUCTIVE.filter((d) => d.pattern.test(command)).map((d) => d.what);
}

export const forwardOnlyMigrations: ResourceValidationPolicy = rule<Record<string, never>>({
    name: "forward-only-migrations",
    description:
        "A command (a migration, or any command or container command the program runs) never contains `migrate reset`, `db push --accept-data-loss`, `--force-reset`, `DROP …`, `TRUNCATE` or similar destructive operations.",
    config: {},
    types: [TYPES.localCommand, TYPES.remoteCommand, TYPES.container],
    check(props: Props, args): Finding[] {
        const lines: { where: string; text: string }[] = [];
        if (args.type === TYPES.container) {
            for (const prop of ["command", "entrypoint"] as const) {
                const parts = asArray(known(() => props[prop])).filter((p): p is string => typeof p === "string");
                if (parts.length > 0) lines.push({ where: prop, text: parts.join(" ") });
            }
        } else {
            for (const prop of ["create", "update", "delete"] as const) {
                const text = asString(known(() => props[prop]));
                if (text) lines.push({ where: prop, text });
            }
        }
        const findings: Finding[] = [];
        for (const { where, text } of lines) {
            const ops = destructiveOperations(text);
            if (ops.length > 0) {
                findings.push({
                    problem: `its ${where} command runs ${ops.join(", ")}, which can destroy data`,
                    fix: "migrate forward only: add a new migration (run by `node --import tsx scripts/migrate.ts`) instead of resetting, pushing or dropping",
                });
            }
        }
        return findings;
    },
});
