import { describe, expect, it } from 'vitest';
import { canUseConsole, grants } from './permissions';

describe('grants (same rule as the server)', () => {
  it('grants everything for *', () => {
    expect(grants(['*'], 'keys:rotate')).toBe(true);
  });

  it('grants a name exactly, and prefix:* everything under the prefix', () => {
    expect(grants(['keys:read'], 'keys:read')).toBe(true);
    expect(grants(['keys:read'], 'keys:rotate')).toBe(false);
    expect(grants(['tokens:*'], 'tokens:revoke')).toBe(true);
    expect(grants(['tokens:*'], 'tokensx:revoke')).toBe(false);
    expect(grants(['a:*'], 'a:b:c')).toBe(true);
  });

  it('lets into the console only someone with a console permission', () => {
    expect(canUseConsole(['invoke', 'view_metrics'])).toBe(false);
    expect(canUseConsole(['audit:read'])).toBe(true);
    expect(canUseConsole(['*'])).toBe(true);
  });
});
