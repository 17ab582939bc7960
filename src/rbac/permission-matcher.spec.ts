import { grants, grantsAll } from './permission-matcher';

describe('permission matching', () => {
  it('grants everything to *', () => {
    expect(grants(new Set(['*']), 'keys:rotate')).toBe(true);
  });

  it('grants a permission named exactly', () => {
    expect(grants(new Set(['invoke']), 'invoke')).toBe(true);
    expect(grants(new Set(['invoke']), 'view_metrics')).toBe(false);
  });

  it('grants every permission under a prefix wildcard', () => {
    const sut = new Set(['tokens:*']);
    expect(grants(sut, 'tokens:revoke')).toBe(true);
    expect(grants(sut, 'tokens:issue')).toBe(true);
    expect(grants(sut, 'keys:rotate')).toBe(false);
    expect(grants(sut, 'tokens')).toBe(false);
  });

  it('walks nested prefixes', () => {
    expect(grants(new Set(['admin:*']), 'admin:keys:rotate')).toBe(true);
    expect(grants(new Set(['admin:keys:*']), 'admin:users:read')).toBe(false);
  });

  it('requires all permissions in grantsAll', () => {
    expect(grantsAll(new Set(['invoke']), ['invoke', 'view_metrics'])).toBe(false);
    expect(grantsAll(new Set(['invoke', 'view_metrics']), ['invoke', 'view_metrics'])).toBe(true);
    expect(grantsAll(new Set(), [])).toBe(true);
  });
});
