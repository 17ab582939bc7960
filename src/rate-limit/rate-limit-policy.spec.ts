import { parseRateLimit, RateLimit } from '../config/policy/auth-policy';
import type { Principal } from '../access/principal';
import { RateLimitPolicy, RequestLimits } from './rate-limit-policy';

const limit = (text: string) => parseRateLimit(text) as RateLimit;

describe('RateLimitPolicy', () => {
  const sut = new RateLimitPolicy({
    admin: limit('1000/minute'),
    operator: limit('100/minute'),
    viewer: limit('10/minute'),
    hourly: limit('300/hour'),
    default: limit('60/minute'),
  });

  it('uses the role’s own limit', () => {
    expect(sut.limitFor(['operator'])).toEqual({
      limit: 100,
      windowMs: 60_000,
      text: '100/minute',
    });
  });

  it('applies the strictest of several roles (lowest rate)', () => {
    expect(sut.limitFor(['admin', 'viewer'])).toEqual({
      limit: 10,
      windowMs: 60_000,
      text: '10/minute',
    });
    // 300/hour (5/minute) is stricter than 10/minute.
    expect(sut.limitFor(['viewer', 'hourly'])).toEqual({
      limit: 300,
      windowMs: 3_600_000,
      text: '300/hour',
    });
  });

  it('uses default for roles without a limit and for principals without roles', () => {
    expect(sut.limitFor(['custom'])).toEqual({ limit: 60, windowMs: 60_000, text: '60/minute' });
    expect(sut.limitFor([])).toEqual({ limit: 60, windowMs: 60_000, text: '60/minute' });
  });

  it('does not limit when the policy has no limit for the roles and no default', () => {
    const none = new RateLimitPolicy({ admin: limit('5/second') });
    expect(none.limitFor(['operator'])).toBeUndefined();
    expect(none.limitFor(['operator', 'admin'])).toEqual({
      limit: 5,
      windowMs: 1_000,
      text: '5/second',
    });
  });
});

describe('RequestLimits', () => {
  const sut = new RequestLimits({ operator: limit('100/minute'), viewer: limit('10/minute') });
  const principal = (roles: string[], claims: Record<string, unknown> = {}): Principal => ({
    subject: 's',
    scopes: [],
    roles,
    method: 'jwt',
    claims,
  });

  it('counts the role’s limit alone when nothing narrows it', () => {
    expect(sut.countersFor(principal(['operator']))).toEqual([
      {
        scope: 'principal',
        suffix: '',
        limit: 100,
        windowMs: 60_000,
        detail: 'Too many requests',
        policy: '100/minute',
        source: 'role',
      },
    ]);
    expect(sut.countersFor(principal(['custom']))).toEqual([]);
  });

  it('lowers the role’s counter with a stricter client or API-key rate_limit on the same window', () => {
    const [counter, ...rest] = sut.countersFor(
      principal(['operator'], { limits: { rate_limit: '5/minute' } }),
    );
    expect(rest).toEqual([]);
    // The refusal names the client's limit, not the role's it replaced.
    expect(counter).toMatchObject({
      suffix: '',
      limit: 5,
      windowMs: 60_000,
      policy: '5/minute',
      source: 'grant',
    });
    expect(counter.detail).toContain('5/minute');
    // A looser override never raises the role's limit.
    expect(
      sut.countersFor(principal(['operator'], { limits: { rate_limit: '500/minute' } })),
    ).toEqual([
      expect.objectContaining({
        limit: 100,
        detail: 'Too many requests',
        policy: '100/minute',
        source: 'role',
      }),
    ]);
  });

  it('adds a second counter of the principal for an override on another window', () => {
    expect(
      sut.countersFor(principal(['operator'], { limits: { rate_limit: '1000/day' } })),
    ).toEqual([
      expect.objectContaining({ suffix: '', limit: 100, policy: '100/minute', source: 'role' }),
      expect.objectContaining({
        scope: 'principal',
        suffix: ':86400000',
        limit: 1000,
        windowMs: 86_400_000,
        policy: '1000/day',
        source: 'grant',
      }),
    ]);
    // Without a role limit, the override is the principal's own counter.
    expect(sut.countersFor(principal(['custom'], { limits: { rate_limit: '3/hour' } }))).toEqual([
      expect.objectContaining({ scope: 'principal', suffix: '', limit: 3, windowMs: 3_600_000 }),
    ]);
  });

  it('counts a token’s numeric rate_limit claim per token, per minute', () => {
    expect(sut.countersFor(principal(['custom'], { rate_limit: 7.9 }))).toEqual([
      {
        scope: 'token',
        suffix: '',
        limit: 7,
        windowMs: 60_000,
        detail: "Request limit reached: 7/minute (the token's rate_limit claim)",
        policy: '7/minute',
        source: 'token_claim',
      },
    ]);
    expect(sut.countersFor(principal(['operator'], { rate_limit: 3 }))).toHaveLength(2);
  });

  it('ignores claims that are not limits (text, zero, negative, malformed overrides)', () => {
    for (const claims of [
      { rate_limit: '5' },
      { rate_limit: 0 },
      { rate_limit: -1 },
      { rate_limit: Number.NaN },
      { limits: { rate_limit: 'lots' } },
      { limits: 'x' },
    ])
      expect(sut.countersFor(principal(['viewer'], claims))).toEqual([
        expect.objectContaining({ limit: 10, detail: 'Too many requests' }),
      ]);
  });

  it('works each combination out once', () => {
    const a = sut.countersFor(principal(['operator'], { rate_limit: 3 }));
    expect(sut.countersFor(principal(['operator'], { rate_limit: 3 }))).toBe(a);
  });
});
