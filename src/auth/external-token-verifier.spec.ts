import { claimAt } from './external-token-verifier';

describe('claimAt (trusted issuers’ claim mapping)', () => {
  const payload = {
    oid: 'u-1',
    emails: ['first@example.com', 'second@example.com'],
    org: { tenant_id: 't-9', teams: [{ name: 'ml' }] },
  };

  it('reads top-level, array-index and nested paths', () => {
    expect(claimAt(payload, 'oid')).toBe('u-1');
    expect(claimAt(payload, 'emails.0')).toBe('first@example.com');
    expect(claimAt(payload, 'emails.1')).toBe('second@example.com');
    expect(claimAt(payload, 'org.tenant_id')).toBe('t-9');
    expect(claimAt(payload, 'org.teams.0.name')).toBe('ml');
  });

  it('answers undefined for a missing path instead of throwing', () => {
    expect(claimAt(payload, 'missing')).toBeUndefined();
    expect(claimAt(payload, 'emails.5')).toBeUndefined();
    expect(claimAt(payload, 'oid.deeper')).toBeUndefined();
    expect(claimAt(payload, 'org.tenant_id.x')).toBeUndefined();
  });
});
