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

/**
 * Compact JWSs signed together, at the end of the event-loop turn they were asked for in — the
 * way the answers are written (common/response-batching.ts). Under load one turn reads many
 * token requests; signed one at a time amid each request's other work, a P-256 signature took
 * twice as long as in a loop (OpenSSL's precomputed tables for the curve's generator, ~150 KB,
 * no longer in the CPU cache); signed back to back, all but the first find them there. A lone
 * request waits for nothing: the check phase (`setImmediate`) follows its own I/O phase at once.
 */
export class SignatureBatch {
  private waiting: Array<{
    header: { alg: SigningAlgorithm } & Record<string, string>;
    payload: object;
    key: KeyObject;
    resolve: (jws: string) => void;
    reject: (error: unknown) => void;
  }> = [];
  private readonly release = () => {
    const batch = this.waiting;
    this.waiting = [];
    for (const job of batch) {
      try {
        job.resolve(signCompactJws(job.header, job.payload, job.key));
      } catch (error) {
        job.reject(error);
      }
    }
  };

  /** {@link signCompactJws}, with the other signatures of this turn. */
  sign(
    header: { alg: SigningAlgorithm } & Record<string, string>,
    payload: object,
    key: KeyObject,
  ): Promise<string> {
    if (this.waiting.length === 0) setImmediate(this.release);
    return new Promise((resolve, reject) =>
      this.waiting.push({ header, payload, key, resolve, reject }),
    );
  }
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
