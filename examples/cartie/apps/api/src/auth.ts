import { SignJWT, jwtVerify } from "jose";

/** Short-lived on purpose: a rotated-out secret's tokens die on their own soon after `jwtSecretPrevious` is removed. */
export const TOKEN_TTL_SECONDS = 15 * 60;
const ALGORITHM = "HS256";
const ISSUER = "cartie-api";
/** A login body is two short strings; anything bigger is not a login. */
export const MAX_LOGIN_BYTES = 16 * 1024;

export interface TokenUser {
  id: string;
  email: string;
  role: string;
}

const encoder = new TextEncoder();

export async function signToken(user: TokenUser, secret: string, ttlSeconds: number = TOKEN_TTL_SECONDS): Promise<string> {
  return new SignJWT({ email: user.email, role: user.role })
    .setProtectedHeader({ alg: ALGORITHM, typ: "JWT" })
    .setSubject(user.id)
    .setIssuer(ISSUER)
    .setIssuedAt()
    .setExpirationTime(`${ttlSeconds}s`)
    .sign(encoder.encode(secret));
}

/**
 * The user id a token names, when it verifies with one of `secrets` (the current one first, then
 * the previous one during a rotation); undefined for anything else (bad signature, expired, other
 * algorithm, malformed). Why it failed is not returned: callers answer 401 either way.
 */
export async function verifyToken(token: string, secrets: readonly string[]): Promise<{ userId: string; secretIndex: number } | undefined> {
  for (const [secretIndex, secret] of secrets.entries()) {
    try {
      const { payload } = await jwtVerify(token, encoder.encode(secret), { algorithms: [ALGORITHM], issuer: ISSUER });
      if (typeof payload.sub === "string" && payload.sub !== "") return { userId: payload.sub, secretIndex };
      return undefined;
    } catch {
      // Try the next secret: a token signed before the rotation verifies only with the previous one.
    }
  }
  return undefined;
}

/** The token of an `Authorization: Bearer <token>` header. */
export function bearerToken(header: string | undefined): string | undefined {
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header ?? "");
  return m?.[1];
}

export interface Credentials {
  email: string;
  password: string;
}

/** `{email, password}` from a login body, or why not (never echoing the values). */
export function parseCredentials(body: string): Credentials | { problem: string } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return { problem: "body is not JSON" };
  }
  if (typeof parsed !== "object" || parsed === null) return { problem: "body is not a JSON object" };
  const { email, password } = parsed as Record<string, unknown>;
  if (typeof email !== "string" || email.trim() === "" || typeof password !== "string" || password === "") {
    return { problem: "email and password (non-empty strings) are required" };
  }
  return { email: email.trim().toLowerCase(), password };
}
