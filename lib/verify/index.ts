/**
 * The health verification after a deploy: endpoint checks with retries (endpoint.ts), how a URL
 * is fetched (get.ts), and certificate problems named as such (certificates.ts).
 */
export * from "./endpoint";
export * from "./get";
export * from "./certificates";
