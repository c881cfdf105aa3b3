/** The platform's database seen from the host: SQL through `docker exec … psql` in the db container (its local socket). */
import { dockerOk } from "./run";

export async function psqlIn(container: string, sql: string, user = "cartie", database = "cartie"): Promise<string> {
    return (await dockerOk(["exec", "-i", container, "psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-At", "-U", user, "-d", database], { input: sql })).trim();
}

/** Rows a test writes into `users` (the sample's table) so it can tell afterwards that none was lost. */
export async function writeUsers(container: string, tag: string, n: number): Promise<void> {
    await psqlIn(
        container,
        `INSERT INTO users (id, email, "passwordHash") SELECT gen_random_uuid()::text, '${tag}-' || g || '@rows.test', 'x' FROM generate_series(1, ${n}) g;`,
    );
}

export async function countUsers(container: string, tag: string): Promise<number> {
    return Number(await psqlIn(container, `SELECT count(*) FROM users WHERE email LIKE '${tag}-%@rows.test';`));
}
