/**
 * Environment assembly: the platform's fixed names and ports (names.ts), its database's identity,
 * URL and environment (database.ts), the api's environment (api.ts), and masking secrets in what is
 * shown (mask.ts).
 */
export * from "./names";
export * from "./database";
export * from "./api";
export * from "./mask";
