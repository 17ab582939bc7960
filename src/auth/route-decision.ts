import type { Reflector } from '@nestjs/core';
import { IsPublic } from './decorators/public.decorator';
import { PermissionsMeta } from './decorators/require-permissions.decorator';
import { RolesMeta } from './decorators/roles.decorator';
import { ScopesMeta } from './decorators/scopes.decorator';

/** What a route declares: public, or the permissions, roles and scopes it needs. */
export interface RouteDecision {
  public: boolean;
  permissions?: string[];
  roles?: string[];
  scopes?: string[];
}

/**
 * Reads a route's decision (handler metadata overrides the controller's). Shared by the
 * permissions guard and the route snapshot test, so both see the same rule.
 */
export function routeDecision(
  reflector: Reflector,
  targets: [handler: object, controller: object],
): RouteDecision {
  const t = targets as [() => void, () => void];
  if (reflector.getAllAndOverride(IsPublic, t)) return { public: true };
  return {
    public: false,
    permissions: reflector.getAllAndOverride(PermissionsMeta, t),
    roles: reflector.getAllAndOverride(RolesMeta, t),
    scopes: reflector.getAllAndOverride(ScopesMeta, t),
  };
}

/** A non-public route with no permission, role or scope declared has no decision. */
export function hasDecision(decision: RouteDecision): boolean {
  return (
    decision.public ||
    decision.permissions !== undefined ||
    decision.roles !== undefined ||
    decision.scopes !== undefined
  );
}
