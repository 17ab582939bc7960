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
import type { Principal } from '../principal';

/**
 * Global guard #1 (authenticate). Every route needs a valid bearer token unless it is marked
 * `@Public()`. Passport's failure reasons become the SPEC's errors, never a generic 401.
 */
@Injectable()
export class AuthenticationGuard extends AuthGuard('jwt') {
  constructor(private readonly reflector: Reflector) {
    super();
  }

  override canActivate(context: ExecutionContext) {
    const isPublic = this.reflector.getAllAndOverride(IsPublic, [
      context.getHandler(),
      context.getClass(),
    ]);
    if (isPublic) return true;
    return super.canActivate(context);
  }

  override handleRequest<TUser = Principal>(err: unknown, user: unknown, info: unknown): TUser {
    if (err) throw toAuthError(err);
    if (!user) throw toAuthError(info);
    return user as TUser;
  }
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
