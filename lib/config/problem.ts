/**
 * One thing wrong with a stack's config, with its fix: what every check of the config contract
 * returns (lib/config/index.ts, lib/config/tls.ts). Its own module so both can use it without
 * importing each other.
 */
export interface ConfigProblem {
    key: string;
    problem: string;
    fix: string;
}
