import { ExecutionContext, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { AuthGuard } from '@nestjs/passport';
import {
  JsonWebTokenError,
  NotBeforeError,
  TokenExpiredError as JwtExpiredError,
} from 'jsonwebtoken';
import {
  DomainError,
  InvalidTokenError,
  NotAuthenticatedError,
  TokenExpiredError,
} from '../../common/errors';
import { IsPublic } from '../decorators/public.decorator';
import { ExternalTokenVerifier } from '../external-token-verifier';
import type { AuthenticatedRequest, Principal } from '../principal';

/**
 * Global guard #1 (authenticate). Every route needs a valid bearer token unless it is marked
 * `@Public()`. Passport's failure reasons become the SPEC's errors, never a generic 401.
 */
@Injectable()
export class AuthenticationGuard extends AuthGuard('jwt') {
  constructor(
    private readonly reflector: Reflector,
    private readonly external: ExternalTokenVerifier,
  ) {
    super();
  }

  override async canActivate(context: ExecutionContext): Promise<boolean> {
    const isPublic = this.reflector.getAllAndOverride(IsPublic, [
      context.getHandler(),
      context.getClass(),
    ]);
    if (isPublic) return true;
    // A token whose (unverified) iss names a trusted issuer is verified with that issuer's JWKS;
    // every other bearer token takes the passport path for our own tokens.
    const request = context.switchToHttp().getRequest<AuthenticatedRequest>();
    const token = bearerToken(request.headers.authorization);
    if (token && this.external.handles(token)) {
      request.user = await this.external.verify(token);
      return true;
    }
    return (await super.canActivate(context)) as boolean;
  }

  override handleRequest<TUser = Principal>(err: unknown, user: unknown, info: unknown): TUser {
    if (err) throw toAuthError(err);
    if (!user) throw toAuthError(info);
    return user as TUser;
  }
}

function bearerToken(header: string | string[] | undefined): string | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  const match = value ? /^bearer\s+(\S+)$/i.exec(value.trim()) : null;
  return match?.[1];
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
