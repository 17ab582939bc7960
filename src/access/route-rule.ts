import type { Reflector } from '@nestjs/core';
import { RouteRuleMeta } from './authenticated.decorator';

/** A route's rule, worked out once: public, undeclared (refused), or what the caller needs. */
export type RouteRule =
  | { kind: 'public' }
  | { kind: 'undeclared' }
  | {
      kind: 'protected';
      /** Permissions the caller's roles must all grant (empty: any authenticated caller). */
      permissions: string[];
      roles?: string[];
      scopes?: string[];
      /** An OAuth client's own id and secret are accepted too (introspection). */
      clientAuthentication?: true;
    };

const PUBLIC: RouteRule = Object.freeze({ kind: 'public' });
const UNDECLARED: RouteRule = Object.freeze({ kind: 'undeclared' });

/**
 * Reads a route's rule from its metadata (the handler's overrides the controller's). Shared by
 * the guards' start-up compilation and the route snapshot test, so both see the same rule.
 */
export function readRouteRule(
  reflector: Reflector,
  handler: object,
  controller: object,
): RouteRule {
  const rule = reflector.getAllAndOverride(RouteRuleMeta, [
    handler as () => void,
    controller as () => void,
  ]);
  if (rule === false) return PUBLIC;
  if (rule === undefined) return UNDECLARED;
  return Object.freeze({
    kind: 'protected',
    permissions: [...(rule.permission ? [rule.permission] : []), ...(rule.permissions ?? [])],
    ...(rule.roles?.length ? { roles: [...rule.roles] } : {}),
    ...(rule.scopes?.length ? { scopes: [...rule.scopes] } : {}),
    ...(rule.clientAuthentication ? { clientAuthentication: true as const } : {}),
  });
}
