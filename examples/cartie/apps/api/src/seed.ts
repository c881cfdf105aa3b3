import { randomBytes, scrypt as scryptCb } from "node:crypto";
import { promisify } from "node:util";
import type { PrismaClient } from "@prisma/client";

const scrypt = promisify(scryptCb) as (password: string, salt: Buffer, keylen: number) => Promise<Buffer>;

/** `scrypt$<salt b64>$<hash b64>` (N=16384, r=8, p=1, 64-byte key). */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await scrypt(password, salt, 64);
  return `scrypt$${salt.toString("base64")}$${key.toString("base64")}`;
}

/**
 * Create the superadmin if it does not exist. Idempotent: an existing row is
 * left exactly as it is (empty `update`), so a restart changes nothing and a
 * password changed since is not overwritten.
 */
export async function seedSuperadmin(prisma: PrismaClient, email: string, password: string): Promise<"created" | "exists"> {
  const existing = await prisma.globalUser.findUnique({ where: { email }, select: { id: true } });
  if (existing) return "exists";
  await prisma.globalUser.upsert({
    where: { email },
    create: { email, passwordHash: await hashPassword(password), role: "superadmin" },
    update: {},
  });
  return "created";
}
