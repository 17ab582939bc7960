import { Injectable } from '@nestjs/common';
import {
  JsonWebTokenError,
  NotBeforeError,
  TokenExpiredError as JwtExpiredError,
  verify,
} from 'jsonwebtoken';
import { DomainError, InvalidTokenError, TokenExpiredError } from '../common/errors';
import type { AccessTokenClaims } from '../auth/access-token';
import { TokenKeyResolver } from '../auth/token-key-resolver';

/**
 * Verifies a token given in a body or to a route that is not behind the global guard (parent
 * tokens, RFC 7009/7662 subjects, SSE bearer): the same key choice, pinned algorithms and
 * iss/aud checks as the guard's passport strategy. Type and revocation checks are the caller's.
 */
@Injectable()
export class TokenVerifier {
  constructor(private readonly resolver: TokenKeyResolver) {}

  /** @throws InvalidTokenError or TokenExpiredError. */
  async verify(token: string, options: { ignoreExpiration?: boolean } = {}) {
    const { key, kid } = await this.resolver.resolve(token);
    try {
      const claims = verify(token, key, {
        ...this.resolver.verifyOptions,
        ignoreExpiration: options.ignoreExpiration ?? false,
      }) as AccessTokenClaims;
      return { claims, kid };
    } catch (error) {
      if (error instanceof DomainError) throw error;
      if (error instanceof JwtExpiredError) throw new TokenExpiredError();
      if (error instanceof NotBeforeError) throw new InvalidTokenError('not yet valid');
      if (error instanceof JsonWebTokenError) throw new InvalidTokenError(error.message);
      throw new InvalidTokenError('unverifiable');
    }
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
