import { CanActivate, ExecutionContext, Injectable } from '@nestjs/common';
import type { AuthenticatedRequest } from '../../access/principal';
import { InsufficientPermissionsError, NotAuthenticatedError } from '../../common/errors';
import { RbacService } from '../../rbac/rbac.service';
import { RateLimitGuard } from '../../rate-limit/rate-limit.guard';
import { RouteRules } from '../route-rules';

/**
 * Global guard #2 (authorize), after authentication, on the rule guard #1 looked up. A non-public
 * route must declare `@Authenticated(...)`; without it, it is refused (forgetting the decorator
 * closes the door). Every list in the rule must pass. The 403 names what was required; on the
 * OpenAI surface it also carries the caller's request allowance, read without counting
 * ({@link RateLimitGuard.reportWithoutCounting}).
 */
@Injectable()
export class PermissionsGuard implements CanActivate {
  constructor(
    private readonly rules: RouteRules,
    private readonly rbac: RbacService,
    private readonly limits: RateLimitGuard,
  ) {}

  canActivate(context: ExecutionContext): boolean | Promise<boolean> {
    try {
      return this.check(context);
    } catch (error) {
      if (!(error instanceof InsufficientPermissionsError)) throw error;
      return this.limits.reportWithoutCounting(context).then(() => {
        throw error;
      });
    }
  }

  private check(context: ExecutionContext): boolean {
    const request = context.switchToHttp().getRequest<AuthenticatedRequest>();
    const rule = request.routeRule ?? this.rules.of(context);
    if (rule.kind === 'public') return true;
    if (rule.kind === 'undeclared')
      throw new InsufficientPermissionsError(['(route declares no permission)']);
    const principal = request.user;
    if (!principal) throw new NotAuthenticatedError();
    const { permissions, roles, scopes } = rule;
    if (permissions.length && !this.rbac.allows(principal.roles, permissions))
      throw new InsufficientPermissionsError(permissions);
    if (roles && !roles.some((role) => principal.roles.includes(role)))
      throw new InsufficientPermissionsError([`one of roles: ${roles.join(', ')}`]);
    if (scopes && !scopes.every((scope) => principal.scopes.includes(scope)))
      throw new InsufficientPermissionsError(scopes.map((scope) => `scope:${scope}`));
    return true;
  }
}
