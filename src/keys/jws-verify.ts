import { constants, createHmac, KeyObject, timingSafeEqual, verify } from 'node:crypto';
import { holderOf, InvalidTokenError, TokenExpiredError } from '../common/errors';
import type { SigningAlgorithm } from './jws-sign';

export interface ClaimChecks {
  issuer: string;
  audience: string;
  /** Skip the `exp` check (a refresh of an expired token, revocation of one). */
  ignoreExpiration?: boolean;
  /** Seconds since the epoch; now by default. */
  now?: number;
}

/**
 * Verifies a compact JWS whose key and algorithm the caller has already chosen (by `kid`, from
 * Tessera's own key ring, with the header's `alg` pinned to the key's: see TokenKeyResolver),
 * then the claims a signature check owes its caller: `iss` equal to ours, `aud` naming ours,
 * `exp` not passed and `nbf` reached (no clock tolerance). RFC 9068's required claims and
 * revocation are PrincipalFactory's. `crypto.verify` on a `KeyObject`, ECDSA in JOSE's r‖s form,
 * PSS with a digest-length salt, HMAC compared in constant time. Every failure is an
 * InvalidTokenError (its reason only for logs) or TokenExpiredError.
 */
export function verifyCompactJws(
  token: string,
  key: KeyObject,
  algorithm: SigningAlgorithm,
  checks: ClaimChecks,
): Record<string, unknown> {
  const first = token.indexOf('.');
  const second = token.indexOf('.', first + 1);
  if (first <= 0 || second <= first + 1 || token.indexOf('.', second + 1) !== -1)
    throw new InvalidTokenError('jwt malformed');
  const encoded = token.slice(second + 1);
  const signature = Buffer.from(encoded, 'base64url');
  if (signature.length === 0) throw new InvalidTokenError('jwt signature is required');
  if (signature.toString('base64url') !== encoded)
    throw new InvalidTokenError('signature is not canonical base64url');
  const input = Buffer.from(token.slice(0, second));
  if (!signatureMatches(algorithm, input, signature, key))
    throw new InvalidTokenError('invalid signature');

  let claims: unknown;
  try {
    claims = JSON.parse(Buffer.from(token.slice(first + 1, second), 'base64url').toString('utf8'));
  } catch {
    throw new InvalidTokenError('malformed payload');
  }
  if (claims === null || typeof claims !== 'object' || Array.isArray(claims))
    throw new InvalidTokenError('payload is not a JSON object');
  checkClaims(claims as Record<string, unknown>, checks);
  return claims as Record<string, unknown>;
}

/**
 * Whether a compact JWS's signature is spelled the one way RFC 7515 §2 allows (base64url, no
 * padding, no other characters, unused trailing bits zero). Decoders (Buffer's, jose's,
 * jsonwebtoken's) skip '=' and ignore the last character's spare bits, so `T==` or another last
 * character would be the same token under another string — for anything that caches or denies
 * tokens by their string. For the verifiers that do not go through {@link verifyCompactJws}.
 */
export function hasCanonicalSignature(token: string): boolean {
  const encoded = token.slice(token.lastIndexOf('.') + 1);
  return Buffer.from(encoded, 'base64url').toString('base64url') === encoded;
}

function signatureMatches(
  algorithm: SigningAlgorithm,
  input: Buffer,
  signature: Buffer,
  key: KeyObject,
): boolean {
  switch (algorithm) {
    case 'RS256':
      return verify('sha256', input, key, signature);
    case 'PS256':
      return verify(
        'sha256',
        input,
        {
          key,
          padding: constants.RSA_PKCS1_PSS_PADDING,
          saltLength: constants.RSA_PSS_SALTLEN_DIGEST,
        },
        signature,
      );
    case 'ES256':
      // A P-256 signature in JOSE form is exactly 64 bytes (r‖s); anything else is not one.
      return (
        signature.length === 64 &&
        verify('sha256', input, { key, dsaEncoding: 'ieee-p1363' }, signature)
      );
    case 'HS256': {
      const expected = createHmac('sha256', key).update(input).digest();
      return expected.length === signature.length && timingSafeEqual(expected, signature);
    }
    default:
      return false;
  }
}

function checkClaims(claims: Record<string, unknown>, checks: ClaimChecks): void {
  const now = checks.now ?? Math.floor(Date.now() / 1000);
  if (claims.iss !== checks.issuer) throw new InvalidTokenError('jwt issuer invalid');
  const audiences = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
  if (!audiences.includes(checks.audience)) throw new InvalidTokenError('jwt audience invalid');
  if (claims.nbf !== undefined) {
    if (typeof claims.nbf !== 'number') throw new InvalidTokenError('invalid nbf value');
    if (claims.nbf > now) throw new InvalidTokenError('not yet valid');
  }
  if (claims.exp !== undefined && !checks.ignoreExpiration) {
    if (typeof claims.exp !== 'number') throw new InvalidTokenError('invalid exp value');
    // Only reached once the signature verified: the claims name whose token it was.
    if (now >= claims.exp) throw new TokenExpiredError(holderOf(claims));
  }
}
