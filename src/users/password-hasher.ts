import { hash, verify } from '@node-rs/argon2';
import { randomBytes } from 'node:crypto';

/*
 * argon2id through @node-rs/argon2: hashing runs on libuv's thread pool, never on the event
 * loop. Its defaults are argon2id, m = 19 MiB, t = 2, p = 1 — OWASP's first recommended setting.
 * The parameters live in each hash string, so raising them later still verifies old hashes.
 */

/** Hashes a password (argon2id, random salt). */
export function hashPassword(password: string): Promise<string> {
  return hash(password);
}

/** True when `password` matches `hashed`; a malformed hash is a mismatch, never a throw. */
export async function verifyPassword(hashed: string, password: string): Promise<boolean> {
  try {
    return await verify(hashed, password);
  } catch {
    return false;
  }
}

let dummy: Promise<string> | undefined;

/**
 * A real argon2id hash of a random password with the same parameters: verifying an unknown
 * email against it costs what a wrong password costs, so timing does not reveal who exists.
 */
export function dummyHash(): Promise<string> {
  dummy ??= hashPassword(randomBytes(24).toString('base64url'));
  return dummy;
}
