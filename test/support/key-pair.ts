import { createSecretKey, generateKeyPairSync, KeyObject, randomBytes } from 'node:crypto';
import type { SigningAlgorithm } from '../../src/keys/jws-sign';

/** A fresh key pair for `alg` (HS256: one secret key on both sides), for the JWS specs. */
export function keyPair(alg: SigningAlgorithm): { privateKey: KeyObject; publicKey: KeyObject } {
  if (alg === 'ES256') return generateKeyPairSync('ec', { namedCurve: 'P-256' });
  if (alg === 'HS256') {
    const secret = createSecretKey(randomBytes(32));
    return { privateKey: secret, publicKey: secret };
  }
  return generateKeyPairSync('rsa', { modulusLength: 2048 });
}
