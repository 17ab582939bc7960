import { createHash, createSecretKey } from 'node:crypto';
import type { SigningKey } from './key-ring';

/** JWT_SECRET_KEY's minimum length (the shared-secret reference's rule, also RFC 7518 §3.2's 256 bits). */
export const MIN_SECRET_LENGTH = 32;

/**
 * The HS256 key for a shared secret, with a `kid` derived from it (a hash prefix, which reveals
 * nothing usable): the server and `tessera token --secret` compute the same one.
 */
export function sharedSecretKey(secret: string): SigningKey {
  const key = createSecretKey(Buffer.from(secret, 'utf8'));
  const kid = 'hs256-' + createHash('sha256').update(secret).digest('base64url').slice(0, 16);
  return { kid, algorithm: 'HS256', key, privateKey: key };
}
