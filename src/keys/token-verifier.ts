import { Injectable } from '@nestjs/common';
import { DomainError } from '../common/errors';
import type { AccessTokenClaims } from '../access/access-token';
import { verifyCompactJws } from './jws-verify';
import { ResolvedKey, TokenKeyResolver } from './token-key-resolver';

export interface Verified {
  claims: AccessTokenClaims;
  kid: string;
}

/**
 * Verifies a token signed by Tessera — the bearer of every request (OwnJwtAuthenticator) and a
 * token given in a body (parent tokens, RFC 7009/7662 subjects, SSE bearer): the key chosen by
 * `kid` from the in-memory ring with the algorithm pinned to the key's ({@link TokenKeyResolver}),
 * the signature, `iss`, `aud`, `exp` and `nbf` ({@link verifyCompactJws}). Type, RFC 9068's
 * required claims and revocation are the caller's (PrincipalFactory). No I/O per token.
 */
@Injectable()
export class TokenVerifier {
  private readonly issuer: string;
  private readonly audience: string;

  constructor(private readonly resolver: TokenKeyResolver) {
    this.issuer = resolver.verifyOptions.issuer as string;
    this.audience = resolver.verifyOptions.audience as string;
  }

  /**
   * @throws InvalidTokenError or TokenExpiredError. Synchronous when the ring holds the token's
   * key (every request's case); a promise while an unknown kid is looked up in the database.
   */
  verify(
    token: string,
    options: { ignoreExpiration?: boolean } = {},
  ): Verified | Promise<Verified> {
    const resolved = this.resolver.resolve(token);
    if (resolved instanceof Promise) return resolved.then((key) => this.check(token, key, options));
    return this.check(token, resolved, options);
  }

  private check(
    token: string,
    { key, kid, algorithm }: ResolvedKey,
    options: { ignoreExpiration?: boolean },
  ): Verified {
    const claims = verifyCompactJws(token, key, algorithm, {
      issuer: this.issuer,
      audience: this.audience,
      ignoreExpiration: options.ignoreExpiration ?? false,
    }) as AccessTokenClaims;
    return { claims, kid };
  }

  /** Like {@link verify}, but answers undefined for any token that does not verify. */
  async tryVerify(token: string, options: { ignoreExpiration?: boolean } = {}) {
    try {
      return await this.verify(token, options);
    } catch (error) {
      if (error instanceof DomainError) return undefined;
      throw error;
    }
  }
}
