/**
 * Does a set of granted permissions cover `required`? `*` grants everything and `prefix:*`
 * grants every permission under `prefix:` (so `tokens:*` covers `tokens:revoke`).
 */
export function grants(granted: ReadonlySet<string>, required: string): boolean {
  if (granted.has('*') || granted.has(required)) return true;
  let index = required.lastIndexOf(':');
  while (index > 0) {
    if (granted.has(`${required.slice(0, index)}:*`)) return true;
    index = required.lastIndexOf(':', index - 1);
  }
  return false;
}

export function grantsAll(granted: ReadonlySet<string>, required: readonly string[]): boolean {
  return required.every((permission) => grants(granted, permission));
}
