import { Inject, Injectable } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import type { AccessTokenClaims } from '../../access/access-token';
import type { AuthenticatedRequest, Principal } from '../../access/principal';
import { DomainError, InvalidTokenError, NotAuthenticatedError } from '../../common/errors';
import { policyConfig } from '../../config/configuration';
import { toTokenError } from '../../keys/token-verifier';
import { JwtStrategy } from '../jwt.strategy';
import { PrincipalFactory } from '../principal.factory';
import { VerifiedTokenCache } from '../verified-token-cache';
import type { PresentedCredentials, RequestAuthenticator } from './request-authenticator';

/**
 * A bearer JWT signed by Tessera. A token already verified is taken from the
 * {@link VerifiedTokenCache} (claims and revocation still re-checked by PrincipalFactory);
 * otherwise the passport-jwt strategy verifies it and the result is cached.
 *
 * The strategy is run directly, as passport itself runs it (a per-request object with
 * success/fail/error callbacks), not looked up by name in passport's process-wide registry:
 * there the last application created in a process would verify for all of them (several app
 * instances share a test process), and the lookup and middleware layers cost time per request.
 */
@Injectable()
export class OwnJwtAuthenticator implements RequestAuthenticator {
  private readonly enabled: boolean;

  constructor(
    @Inject(policyConfig.KEY) policy: ConfigType<typeof policyConfig>,
    private readonly verified: VerifiedTokenCache,
    private readonly principals: PrincipalFactory,
    private readonly jwt: JwtStrategy,
  ) {
    this.enabled = policy.modes.includes('jwt');
  }

  async authenticate(
    request: AuthenticatedRequest,
    { bearer }: PresentedCredentials,
  ): Promise<Principal | undefined> {
    if (!this.enabled || bearer === undefined) return undefined;
    const cached = this.verified.get(bearer);
    if (cached) return this.principals.fromAccessToken(cached.claims, cached.kid);
    const principal = await this.runStrategy(request);
    this.verified.set(bearer, principal.claims as AccessTokenClaims, principal.keyId);
    return principal;
  }

  /** One passport-jwt attempt: extract, pick the key, verify, validate (JwtStrategy.validate). */
  private runStrategy(request: AuthenticatedRequest): Promise<Principal> {
    return new Promise((resolve, reject) => {
      const attempt = Object.create(this.jwt) as JwtStrategy & StrategyCallbacks;
      attempt.success = (user) =>
        user ? resolve(user as Principal) : reject(new InvalidTokenError('unknown'));
      attempt.fail = (info) => reject(strategyError(info));
      attempt.error = (error) => reject(strategyError(error));
      attempt.pass = () => reject(new NotAuthenticatedError());
      attempt.redirect = () => reject(new InvalidTokenError('unexpected redirect'));
      attempt.authenticate(request as never, {});
    });
  }
}

/** The actions passport gives a strategy for one attempt. */
interface StrategyCallbacks {
  success(user: unknown, info?: unknown): void;
  fail(challenge?: unknown, status?: number): void;
  error(error: unknown): void;
  pass(): void;
  redirect(url: string, status?: number): void;
}

/** passport-jwt's failure reasons as the SPEC's errors, never a generic 401. */
function strategyError(reason: unknown): DomainError {
  if (reason instanceof Error && reason.message === 'No auth token')
    return new NotAuthenticatedError();
  return toTokenError(reason);
}
