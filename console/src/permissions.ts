/**
 * The same rule as the server's permission matcher: `*` grants everything, `prefix:*` everything
 * under `prefix:`, otherwise the exact name. Used only to hide what the API would refuse; the API
 * checks every call itself.
 */
export function grants(granted: readonly string[], required: string): boolean {
  const set = new Set(granted);
  if (set.has('*') || set.has(required)) return true;
  let index = required.lastIndexOf(':');
  while (index > 0) {
    if (set.has(`${required.slice(0, index)}:*`)) return true;
    index = required.lastIndexOf(':', index - 1);
  }
  return false;
}

/** The permissions the console's pages and actions ask for. */
export const CONSOLE_PERMISSIONS = [
  'clients:manage',
  'api_keys:manage',
  'users:manage',
  'roles:manage',
  'keys:read',
  'keys:rotate',
  'tokens:revoke',
  'audit:read',
  'usage:read',
] as const;

export type ConsolePermission = (typeof CONSOLE_PERMISSIONS)[number];

/** Does the person hold any permission the console can use? */
export function canUseConsole(granted: readonly string[]): boolean {
  return CONSOLE_PERMISSIONS.some((p) => grants(granted, p));
}
