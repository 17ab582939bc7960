import { Injectable } from '@nestjs/common';
import { KeysService } from '../keys/keys.service';
import type { AccessTokenClaims } from '../access/access-token';

interface Entry {
  /** The whole token: a hit must equal it byte for byte. */
  token: string;
  claims: AccessTokenClaims;
  kid: string;
  /** `exp` in milliseconds. */
  expiresAt: number;
}

/** At most this many verified tokens are remembered (oldest forgotten first). */
export const VERIFIED_TOKEN_CACHE_SIZE = 10_000;

/**
 * The map key of a token: its last 43 characters (the tail of the signature, 256 bits of base64url
 * for every algorithm Tessera signs with). Each request's token is a new string, and a map
 * computes the hash of all of a string's characters (~700 for RS256) before it can look it up —
 * measurable on every request; the tail is hashed in a twentieth of that. A hit is then compared
 * with the whole token, so nothing but the very same token can match.
 */
function keyOf(token: string): string {
  return token.length > 43 ? token.slice(-43) : token;
}

/**
 * Remembers tokens whose signature and claims have been verified, so a client reusing its token
 * skips the signature math. Safe because: a hit is the whole token (a changed byte misses);
 * an entry is never used at or after the token's `exp`; the cache is bounded; it is emptied when
 * any verification key is retired; and the caller still runs `PrincipalFactory.fromAccessToken`
 * (claim checks and revocation) on every hit.
 */
@Injectable()
export class VerifiedTokenCache {
  private readonly entries = new Map<string, Entry>();

  constructor(private readonly keys: KeysService) {
    keys.onRingChange((removed) => {
      if (removed.length) this.entries.clear();
    });
  }

  get size(): number {
    return this.entries.size;
  }

  get(token: string, now = Date.now()): Entry | undefined {
    const key = keyOf(token);
    const entry = this.entries.get(key);
    if (!entry || entry.token !== token) return undefined;
    // Defence in depth: the ring listener already empties the cache when a key goes away.
    if (entry.expiresAt <= now || !this.keys.verificationKey(entry.kid)) {
      this.entries.delete(key);
      return undefined;
    }
    return entry;
  }

  /**
   * Whether this very string is remembered (a verified token, so a well-formed one): the bearer
   * check skips its character scan for it. Expiry is not looked at here; {@link get} does that.
   */
  holds(token: string): boolean {
    return this.entries.get(keyOf(token))?.token === token;
  }

  set(token: string, claims: AccessTokenClaims, kid: string | undefined): void {
    // Only tokens signed by one of our own keys (not, say, a trusted external issuer's).
    if (!kid || typeof claims.exp !== 'number' || !this.keys.verificationKey(kid)) return;
    const key = keyOf(token);
    if (this.entries.size >= VERIFIED_TOKEN_CACHE_SIZE && !this.entries.has(key)) {
      // Map keeps insertion order: the first key is the oldest.
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.entries.delete(oldest);
    }
    this.entries.set(key, { token, claims, kid, expiresAt: claims.exp * 1000 });
  }

  clear(): void {
    this.entries.clear();
  }
}
