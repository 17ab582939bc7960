import { Injectable } from '@nestjs/common';
import { KeysService } from '../keys/keys.service';
import type { AccessTokenClaims } from '../access/access-token';

interface Entry {
  claims: AccessTokenClaims;
  kid: string;
  /** `exp` in milliseconds. */
  expiresAt: number;
}

/** At most this many verified tokens are remembered (oldest forgotten first). */
export const VERIFIED_TOKEN_CACHE_SIZE = 10_000;

/**
 * Remembers tokens whose signature and claims have been verified, so a client reusing its token
 * skips the signature math. Safe because: the key is the whole token (a changed byte misses);
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
    const entry = this.entries.get(token);
    if (!entry) return undefined;
    // Defence in depth: the ring listener already empties the cache when a key goes away.
    if (entry.expiresAt <= now || !this.keys.verificationKey(entry.kid)) {
      this.entries.delete(token);
      return undefined;
    }
    return entry;
  }

  set(token: string, claims: AccessTokenClaims, kid: string | undefined): void {
    // Only tokens signed by one of our own keys (not, say, a trusted external issuer's).
    if (!kid || typeof claims.exp !== 'number' || !this.keys.verificationKey(kid)) return;
    if (this.entries.size >= VERIFIED_TOKEN_CACHE_SIZE && !this.entries.has(token)) {
      // Map keeps insertion order: the first key is the oldest.
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.entries.delete(oldest);
    }
    this.entries.set(token, { claims, kid, expiresAt: claims.exp * 1000 });
  }

  clear(): void {
    this.entries.clear();
  }
}
