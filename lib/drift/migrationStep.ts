/**
 * The live-drift check inside the Migration step (scripts/migrate.ts → runMigrations' hooks):
 * before anything changes, the live schema against the migrations the database has applied (or
 * is taken to have, for a database without history); it stops the update when the live schema
 * differs in a way the pending migrations do not fix, naming each difference, and says which
 * pending drift fixes the live database already has (they are marked applied, not run). After the
 * Prisma commands ran it checks the live schema against every migration.
 */
import { MigrationHooks } from "../migration/run";
import { findingLine } from "./classify";
import { checkAfter, checkLive, DriftSession, DriftTarget, LocalMigration } from "./check";
import { PrismaSchemaInfo } from "./prismaSchema";

export function driftHooks(target: DriftTarget, migrations: LocalMigration[], model?: PrismaSchemaInfo): Required<Pick<MigrationHooks, "checkSchema" | "afterChanges">> {
    const session = new DriftSession(target, migrations);
    return {
        async checkSchema(applied, _plan, log) {
            const swept = await session.sweep();
            if (swept.length > 0) log(`drift check: dropped ${swept.length} scratch database(s) a killed run left: ${swept.join(", ")}`);
            const started = Date.now();
            const check = await checkLive(session, { applied, model });
            const against = check.applied.length === 0 ? "no migrations" : check.applied.length === 1 ? check.applied[0] : `${check.applied[0]} … ${check.applied.at(-1)}`;
            if (check.findings.length === 0) log(`drift check: the live schema is what the applied migrations produce (${against}) (${Date.now() - started} ms)`);
            else {
                log(`drift check: the live schema differs from what the applied migrations produce (${against}) in ${check.findings.length} way(s):`);
                for (const f of check.findings) log(`  ${findingLine(f)}`);
            }
            if (check.brokenMigration)
                log(`drift check: pending migration ${check.brokenMigration} fails on a database built by the migrations too (not drift): it runs as planned and Prisma reports it`);
            if (check.refusal) throw new Error(check.refusal);
            for (const name of check.driftFixesPresent) log(`drift check: the live database already has what ${name} records: it is marked applied, not run`);
            return { alreadyApplied: check.driftFixesPresent };
        },
        async afterChanges(log) {
            const after = await checkAfter(session, model);
            if (after.findings.length === 0) log("drift check: the live schema is now what every migration produces");
            else {
                log(`drift check after migrating: ${after.findings.length} difference(s) from what every migration produces:`);
                for (const f of after.findings) log(`  ${findingLine(f)}`);
            }
            if (after.blocking.length > 0) throw new Error(`the live schema still differs from the migrations:\n${after.blocking.map((f) => `  - ${findingLine(f)}\n    means: ${f.api}`).join("\n")}\nthe api is not replaced; \`npm run drift\` shows every difference`);
        },
    };
}
