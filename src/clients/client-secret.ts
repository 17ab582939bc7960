import { createHash, createHmac, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto';

const KEYED = 'hmac-sha256:';
const LEGACY = 'sha256:';

/**
 * Client secrets are stored as HMAC-SHA-256 keyed with a server-side pepper that never enters
 * the database, so a dump alone cannot be used to test guesses (a supplied secret may be weak;
 * generated ones have 256 bits of entropy, which is why one keyed hash is enough, and no slow
 * KDF adds latency per token request). Digests written before the pepper (`sha256:`, unkeyed)
 * still verify and are upgraded on the next successful authentication. Compared in constant time.
 */
export class ClientSecretHasher {
  /** A digest to compare against when the client does not exist, so both paths cost the same. */
  readonly dummyDigest: string;

  constructor(private readonly pepper: Buffer) {
    if (pepper.length < 32) throw new Error('The client-secret pepper must be at least 32 bytes');
    this.dummyDigest = this.digest(generateSecret());
  }

  /**
   * The pepper derived (HKDF-SHA-256) from a server-side secret: CLIENT_SECRET_PEPPER when set,
   * else KEY_ENCRYPTION_KEY (or the development key in DATA_DIR), else JWT_SECRET_KEY.
   */
  static derivePepper(secret: Buffer): Buffer {
    return Buffer.from(hkdfSync('sha256', secret, 'tessera', 'client-secret pepper v1', 32));
  }

  digest(secret: string): string {
    return KEYED + createHmac('sha256', this.pepper).update(secret, 'utf8').digest('hex');
  }

  /** `match`: the secret is right; `upgrade`: right, but stored in the old unkeyed form. */
  verify(secret: string, stored: string): { match: boolean; upgrade: boolean } {
    if (stored.startsWith(LEGACY)) {
      const match = equal(LEGACY + sha256(secret), stored);
      return { match, upgrade: match };
    }
    return { match: equal(this.digest(secret), stored), upgrade: false };
  }
}

function sha256(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('hex');
}

function equal(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}

export function generateSecret(): string {
  return randomBytes(32).toString('base64url');
}
