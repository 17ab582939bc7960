import { CanActivate, ExecutionContext, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { InsufficientPermissionsError, NotAuthenticatedError } from '../../common/errors';
import { RbacService } from '../../rbac/rbac.service';
import type { AuthenticatedRequest } from '../principal';
import { hasDecision, routeDecision } from '../route-decision';

/**
 * Global guard #2 (authorize), after authentication. A non-public route must declare
 * `@RequirePermissions()`, `@Roles()` or `@Scopes()`; without any, it is refused (forgetting the
 * decorator closes the door). When several are declared, all must pass. The 403 names what
 * was required.
 */
@Injectable()
export class PermissionsGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly rbac: RbacService,
  ) {}

  canActivate(context: ExecutionContext): boolean {
    const decision = routeDecision(this.reflector, [context.getHandler(), context.getClass()]);
    if (decision.public) return true;
    if (!hasDecision(decision))
      throw new InsufficientPermissionsError(['(route declares no permission)']);
    const principal = context.switchToHttp().getRequest<AuthenticatedRequest>().user;
    if (!principal) throw new NotAuthenticatedError();
    const { permissions, roles, scopes } = decision;
    if (permissions && !this.rbac.allows(principal.roles, permissions))
      throw new InsufficientPermissionsError(permissions);
    if (roles && !roles.some((role) => principal.roles.includes(role)))
      throw new InsufficientPermissionsError([`one of roles: ${roles.join(', ')}`]);
    if (scopes && !scopes.every((scope) => principal.scopes.includes(scope)))
      throw new InsufficientPermissionsError(scopes.map((scope) => `scope:${scope}`));
    return true;
  }
}
