import { ExecutionContext, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { AuthGuard } from '@nestjs/passport';
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
import type { AuthenticatedRequest, Principal } from '../principal';
import { PrincipalFactory } from '../principal.factory';
import { VerifiedTokenCache } from '../verified-token-cache';

/**
 * Global guard #1 (authenticate). Every route needs credentials unless it is marked `@Public()`:
 * an API key (see {@link ApiKeyAuthenticator}), else a bearer JWT (a token already verified is
 * taken from {@link VerifiedTokenCache}, still re-checked by PrincipalFactory; otherwise
 * passport-jwt), else, in `none` mode only, the anonymous principal. Passport's failure reasons
 * become the SPEC's errors, never a generic 401.
 */
@Injectable()
export class AuthenticationGuard extends AuthGuard('jwt') {
  constructor(
    private readonly reflector: Reflector,
    private readonly external: ExternalTokenVerifier,
    private readonly apiKeys: ApiKeyAuthenticator,
    private readonly modes: AuthModes,
    private readonly verified: VerifiedTokenCache,
    private readonly principals: PrincipalFactory,
  ) {
    super();
  }

  override async canActivate(context: ExecutionContext): Promise<boolean> {
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
    const ok = (await super.canActivate(context)) as boolean;
    if (ok && token !== undefined && request.user?.method === 'jwt')
      this.verified.set(token, request.user.claims as AccessTokenClaims, request.user.keyId);
    return ok;
  }

  override handleRequest<TUser = Principal>(err: unknown, user: unknown, info: unknown): TUser {
    if (err) throw toAuthError(err);
    if (!user) throw toAuthError(info);
    return user as TUser;
  }
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
