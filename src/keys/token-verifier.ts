import { Injectable } from '@nestjs/common';
import {
  JsonWebTokenError,
  NotBeforeError,
  TokenExpiredError as JwtExpiredError,
  verify,
} from 'jsonwebtoken';
import { DomainError, InvalidTokenError, TokenExpiredError } from '../common/errors';
import type { AccessTokenClaims } from '../access/access-token';
import { TokenKeyResolver } from './token-key-resolver';

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
      throw toTokenError(error);
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

/** jsonwebtoken's (and passport-jwt's) failures as the SPEC's errors; used by every verify path. */
export function toTokenError(reason: unknown): DomainError {
  if (reason instanceof DomainError) return reason;
  if (reason instanceof JwtExpiredError) return new TokenExpiredError();
  if (reason instanceof NotBeforeError) return new InvalidTokenError('not yet valid');
  if (reason instanceof JsonWebTokenError) return new InvalidTokenError(reason.message);
  return new InvalidTokenError(reason instanceof Error ? reason.message : 'unverifiable');
}
