/**
 * The platform's fixed names and ports inside its network, shared by every component and script:
 * containers find each other by these aliases.
 */
export const ALIASES = { db: "db", api: "api", web: "web", proxy: "proxy" } as const;
export const DB_USER = "cartie";
export const DB_NAME = "cartie";
export const DB_PORT = 5432;
export const API_PORT = 3000;
export const WEB_PORT = 8080;
export const PROXY_PORT = 80;
export const HEALTH_PATH = "/api/health";
export const POSTGRES_DATA_DIR = "/var/lib/postgresql/data";
