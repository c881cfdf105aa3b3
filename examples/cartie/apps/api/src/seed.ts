import { randomBytes, scrypt as scryptCb, timingSafeEqual } from "node:crypto";
import { promisify } from "node:util";
import type { PrismaClient } from "@prisma/client";

const scrypt = promisify(scryptCb) as (password: string, salt: Buffer, keylen: number) => Promise<Buffer>;
const KEY_LENGTH = 64;

/** `scrypt$<salt b64>$<hash b64>` (N=16384, r=8, p=1, 64-byte key). */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await scrypt(password, salt, KEY_LENGTH);
  return `scrypt$${salt.toString("base64")}$${key.toString("base64")}`;
}

/** Whether `password` matches a `hashPassword` result; false for anything not in that format. */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const [scheme, saltB64, keyB64, ...rest] = stored.split("$");
  if (scheme !== "scrypt" || !saltB64 || !keyB64 || rest.length > 0) return false;
  const expected = Buffer.from(keyB64, "base64");
  if (expected.length !== KEY_LENGTH) return false;
  const key = await scrypt(password, Buffer.from(saltB64, "base64"), KEY_LENGTH);
  return timingSafeEqual(key, expected);
}

/** Hashed once, so a login for an unknown email costs one scrypt like a wrong password does. */
let dummyHash: Promise<string> | undefined;
export function unknownUserHash(): Promise<string> {
  dummyHash ??= hashPassword(randomBytes(32).toString("base64"));
  return dummyHash;
}

export type SeedResult = "created" | "exists" | "password updated";

/**
 * Makes the superadmin match SEED_SUPERADMIN_EMAIL / SEED_SUPERADMIN_PASSWORD: created when
 * missing; when it exists and its stored hash does not match the password, the hash is replaced
 * (so a new `cartie:seedSuperadminPassword` is a rotation, not a silent no-op). A matching row is
 * left exactly as it is, so a restart changes nothing.
 */
export async function seedSuperadmin(prisma: PrismaClient, email: string, password: string): Promise<SeedResult> {
  const existing = await prisma.globalUser.findUnique({ where: { email }, select: { id: true, passwordHash: true } });
  if (existing) {
    if (await verifyPassword(password, existing.passwordHash)) return "exists";
    await prisma.globalUser.update({ where: { id: existing.id }, data: { passwordHash: await hashPassword(password) } });
    return "password updated";
  }
  await prisma.globalUser.upsert({
    where: { email },
    create: { email, passwordHash: await hashPassword(password), role: "superadmin" },
    update: {},
  });
  return "created";
}
