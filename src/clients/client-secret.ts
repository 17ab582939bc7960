import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * Client secrets are generated with 256 bits of entropy, so one SHA-256 is enough to store them
 * (a slow KDF would only add latency per token request). Compared in constant time.
 */
export function digestSecret(secret: string): string {
  return 'sha256:' + createHash('sha256').update(secret, 'utf8').digest('hex');
}

export function generateSecret(): string {
  return randomBytes(32).toString('base64url');
}

/** A digest to compare against when the client does not exist, so both paths cost the same. */
export const DUMMY_DIGEST = digestSecret(generateSecret());

export function secretMatches(secret: string, storedDigest: string): boolean {
  const presented = Buffer.from(digestSecret(secret));
  const stored = Buffer.from(storedDigest);
  return presented.length === stored.length && timingSafeEqual(presented, stored);
}
