import { constants, createHmac, KeyObject, sign, type SignKeyObjectInput } from 'node:crypto';

/** The algorithms Tessera signs with: RS256, PS256, ES256 (key ring) and HS256 (shared secret). */
export type SigningAlgorithm = 'RS256' | 'PS256' | 'ES256' | 'HS256';

const base64url = (value: string) => Buffer.from(value).toString('base64url');

/** The header segment of each key, encoded once (a key's header never changes). */
const headers = new WeakMap<KeyObject, Map<string, string>>();

function headerSegment(key: KeyObject, header: Record<string, string>): string {
  let byHeader = headers.get(key);
  if (!byHeader) headers.set(key, (byHeader = new Map()));
  const json = JSON.stringify(header);
  let segment = byHeader.get(json);
  if (segment === undefined) byHeader.set(json, (segment = base64url(json)));
  return segment;
}

/**
 * A compact JWS (RFC 7515) over `payload`: `header` (whose `alg` names the algorithm) and the
 * signature made with `key`, a `KeyObject` — the one-shot `crypto.sign`, with ECDSA signatures in
 * JOSE's fixed-length r‖s form and PSS with a digest-length salt (RFC 7518 §3.3–3.5). Nothing
 * else runs per token: the header segment is encoded once per key. Tokens are verified with
 * jsonwebtoken (pinned algorithms), which these signatures satisfy byte for byte.
 */
export function signCompactJws(
  header: { alg: SigningAlgorithm } & Record<string, string>,
  payload: object,
  key: KeyObject,
): string {
  const input = `${headerSegment(key, header)}.${base64url(JSON.stringify(payload))}`;
  return `${input}.${signature(header.alg, input, key).toString('base64url')}`;
}

function signature(algorithm: SigningAlgorithm, input: string, key: KeyObject): Buffer {
  const data = Buffer.from(input);
  switch (algorithm) {
    case 'RS256':
      return sign('sha256', data, key);
    case 'PS256':
      return sign('sha256', data, {
        key,
        padding: constants.RSA_PKCS1_PSS_PADDING,
        saltLength: constants.RSA_PSS_SALTLEN_DIGEST,
      } as SignKeyObjectInput);
    case 'ES256':
      return sign('sha256', data, { key, dsaEncoding: 'ieee-p1363' } as SignKeyObjectInput);
    case 'HS256':
      return createHmac('sha256', key).update(data).digest();
    default:
      throw new Error(`Unsupported signing algorithm ${String(algorithm)}`);
  }
}
