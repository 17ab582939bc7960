import { CanActivate, ExecutionContext, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { InsufficientPermissionsError, NotAuthenticatedError } from '../../common/errors';
import { RbacService } from '../../rbac/rbac.service';
import { IsPublic } from '../decorators/public.decorator';
import { PermissionsMeta } from '../decorators/require-permissions.decorator';
import type { AuthenticatedRequest } from '../principal';

/**
 * Global guard #2 (authorize), after authentication. A non-public route without a
 * `@RequirePermissions()` decision is refused: forgetting the decorator closes the door.
 */
@Injectable()
export class PermissionsGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly rbac: RbacService,
  ) {}

  canActivate(context: ExecutionContext): boolean {
    const targets = [context.getHandler(), context.getClass()];
    if (this.reflector.getAllAndOverride(IsPublic, targets)) return true;
    const required = this.reflector.getAllAndOverride(PermissionsMeta, targets);
    if (required === undefined)
      throw new InsufficientPermissionsError(['(route declares no permission)']);
    const principal = context.switchToHttp().getRequest<AuthenticatedRequest>().user;
    if (!principal) throw new NotAuthenticatedError();
    if (!this.rbac.allows(principal.roles, required))
      throw new InsufficientPermissionsError(required);
    return true;
  }
}
