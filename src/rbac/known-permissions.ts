/**
 * Every permission name the service checks. README lists them; the route snapshot test fails if a
 * route asks for a permission missing here. Imports nothing: the web console's Roles page offers
 * the same list (console/src/pages/Roles.tsx imports this file).
 */
export const KNOWN_PERMISSIONS = [
  'invoke',
  'view_metrics',
  'keys:read',
  'keys:rotate',
  'clients:manage',
  'api_keys:manage',
  'roles:manage',
  'tokens:issue',
  'tokens:revoke',
  'tokens:introspect',
  'users:manage',
  'audit:read',
  'usage:read',
] as const;
