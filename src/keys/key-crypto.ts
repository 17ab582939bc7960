import {
  createCipheriv,
  createDecipheriv,
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  JsonWebKey,
  KeyObject,
  randomBytes,
} from 'node:crypto';

export type AsymmetricAlgorithm = 'RS256' | 'PS256' | 'ES256';

export interface PublicJwk {
  kid: string;
  kty: string;
  alg: string;
  use: 'sig';
  n?: string;
  e?: string;
  crv?: string;
  x?: string;
  y?: string;
}

/** RSA 2048 for RS256/PS256, P-256 for ES256. */
export function generateSigningKeyPair(algorithm: AsymmetricAlgorithm): {
  privateKey: KeyObject;
  publicKey: KeyObject;
} {
  if (algorithm === 'ES256') return generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return generateKeyPairSync('rsa', { modulusLength: 2048 });
}

/** Which algorithms a key can serve; an imported PEM is checked against JWT_ALGORITHM with it. */
export function keyFitsAlgorithm(key: KeyObject, algorithm: string): boolean {
  if (algorithm === 'ES256')
    return key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1';
  if (algorithm === 'RS256' || algorithm === 'PS256') {
    return (
      key.asymmetricKeyType === 'rsa' && (key.asymmetricKeyDetails?.modulusLength ?? 0) >= 2048
    );
  }
  return false;
}

/** RFC 7638 JWK thumbprint (SHA-256, base64url): a stable `kid` derived from the public key. */
export function jwkThumbprint(publicKey: KeyObject): string {
  const jwk = publicKey.export({ format: 'jwk' }) as JsonWebKey;
  const members =
    jwk.kty === 'EC'
      ? { crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y }
      : { e: jwk.e, kty: jwk.kty, n: jwk.n };
  return createHash('sha256').update(JSON.stringify(members)).digest('base64url');
}

/** The public members only: a private member (d, p, q, dp, dq, qi) is never published. */
export function toPublicJwk(publicKey: KeyObject, kid: string, alg: string): PublicJwk {
  const jwk = publicKey.export({ format: 'jwk' }) as JsonWebKey;
  if (jwk.kty === 'EC')
    return { kid, kty: 'EC', alg, use: 'sig', crv: jwk.crv, x: jwk.x, y: jwk.y };
  return { kid, kty: 'RSA', alg, use: 'sig', n: jwk.n, e: jwk.e };
}

export function publicKeyPem(publicKey: KeyObject): string {
  return publicKey.export({ type: 'spki', format: 'pem' }).toString();
}

export function parsePublicKey(pem: string): KeyObject {
  return createPublicKey(pem);
}

/**
 * AES-256-GCM over the PKCS#8 DER of the private key; the kid is bound in as additional data,
 * so a ciphertext moved to another row fails to decrypt. Layout: v1.<iv>.<tag>.<ciphertext>.
 */
export function encryptPrivateKey(privateKey: KeyObject, kek: Buffer, kid: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', kek, iv);
  cipher.setAAD(Buffer.from(kid));
  const der = privateKey.export({ type: 'pkcs8', format: 'der' });
  const ciphertext = Buffer.concat([cipher.update(der), cipher.final()]);
  return [
    'v1',
    iv.toString('base64'),
    cipher.getAuthTag().toString('base64'),
    ciphertext.toString('base64'),
  ].join('.');
}

export function decryptPrivateKey(sealed: string, kek: Buffer, kid: string): KeyObject {
  const [version, iv, tag, ciphertext] = sealed.split('.');
  if (version !== 'v1' || !iv || !tag || !ciphertext)
    throw new Error(`Signing key ${kid} has an unknown encryption format`);
  const decipher = createDecipheriv('aes-256-gcm', kek, Buffer.from(iv, 'base64'));
  decipher.setAAD(Buffer.from(kid));
  decipher.setAuthTag(Buffer.from(tag, 'base64'));
  const der = Buffer.concat([decipher.update(Buffer.from(ciphertext, 'base64')), decipher.final()]);
  return createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
}
