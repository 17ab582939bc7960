import { CanActivate, ExecutionContext, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import {
  JsonWebTokenError,
  NotBeforeError,
  TokenExpiredError as JwtExpiredError,
} from 'jsonwebtoken';
import { ApiKeyAuthenticator } from '../../api-keys/api-key.authenticator';
import {
  DomainError,
  InvalidTokenError,
  NotAuthenticatedError,
  TokenExpiredError,
} from '../../common/errors';
import type { AccessTokenClaims } from '../access-token';
import { AuthModes } from '../auth-modes';
import { IsPublic } from '../decorators/public.decorator';
import { ExternalTokenVerifier } from '../external-token-verifier';
import { JwtStrategy } from '../jwt.strategy';
import type { AuthenticatedRequest, Principal } from '../principal';
import { PrincipalFactory } from '../principal.factory';
import { VerifiedTokenCache } from '../verified-token-cache';

/**
 * Global guard #1 (authenticate). Every route needs credentials unless it is marked `@Public()`:
 * an API key (see {@link ApiKeyAuthenticator}), else a bearer JWT (a token already verified is
 * taken from {@link VerifiedTokenCache}, still re-checked by PrincipalFactory; otherwise
 * passport-jwt), else, in `none` mode only, the anonymous principal. Passport's failure reasons
 * become the SPEC's errors, never a generic 401.
 *
 * The passport-jwt strategy is run directly, as passport itself runs it (a per-request object
 * with success/fail/error callbacks), not looked up by name in passport's process-wide registry:
 * there the last application created in a process would verify for all of them (several app
 * instances share a test process), and the lookup and middleware layers cost time per request.
 */
@Injectable()
export class AuthenticationGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly external: ExternalTokenVerifier,
    private readonly apiKeys: ApiKeyAuthenticator,
    private readonly modes: AuthModes,
    private readonly verified: VerifiedTokenCache,
    private readonly principals: PrincipalFactory,
    private readonly jwt: JwtStrategy,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const isPublic = this.reflector.getAllAndOverride(IsPublic, [
      context.getHandler(),
      context.getClass(),
    ]);
    if (isPublic) return true;
    const request = context.switchToHttp().getRequest<AuthenticatedRequest>();
    const viaKey = this.apiKeys.authenticate(request);
    if (viaKey) {
      request.user = viaKey;
      return true;
    }
    const token = bearerToken(request);
    if (token === undefined && this.modes.anonymous) {
      request.user = this.modes.anonymous;
      return true;
    }
    if (!this.modes.jwt)
      throw token === undefined ? new NotAuthenticatedError() : new InvalidTokenError('jwt off');
    // A token whose (unverified) iss names a trusted issuer is verified with that issuer's JWKS;
    // every other bearer token takes the cache or the passport path for our own tokens.
    if (token !== undefined && this.external.handles(token)) {
      request.user = await this.external.verify(token);
      return true;
    }
    const cached = token === undefined ? undefined : this.verified.get(token);
    if (cached) {
      request.user = await this.principals.fromAccessToken(cached.claims, cached.kid);
      return true;
    }
    const principal = await this.runStrategy(request);
    request.user = principal;
    if (token !== undefined && principal.method === 'jwt')
      this.verified.set(token, principal.claims as AccessTokenClaims, principal.keyId);
    return true;
  }

  /** One passport-jwt attempt: extract, pick the key, verify, validate (JwtStrategy.validate). */
  private runStrategy(request: AuthenticatedRequest): Promise<Principal> {
    return new Promise((resolve, reject) => {
      const attempt = Object.create(this.jwt) as JwtStrategy & StrategyCallbacks;
      attempt.success = (user) =>
        user ? resolve(user as Principal) : reject(toAuthError(undefined));
      attempt.fail = (info) => reject(toAuthError(info));
      attempt.error = (error) => reject(toAuthError(error));
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

function bearerToken(request: AuthenticatedRequest): string | undefined {
  const authorization = request.headers.authorization;
  if (typeof authorization !== 'string' || !/^bearer /i.test(authorization)) return undefined;
  const token = authorization.slice(7).trim();
  return token === '' ? undefined : token;
}

function toAuthError(reason: unknown): DomainError {
  if (reason instanceof DomainError) return reason;
  if (reason instanceof JwtExpiredError) return new TokenExpiredError();
  if (reason instanceof NotBeforeError) return new InvalidTokenError('not yet valid');
  if (reason instanceof JsonWebTokenError) return new InvalidTokenError(reason.message);
  if (reason instanceof Error && reason.message === 'No auth token')
    return new NotAuthenticatedError();
  return new InvalidTokenError(reason instanceof Error ? reason.message : 'unknown');
}
