import { parseRateLimit, RateLimit } from '../config/policy/auth-policy';
import { RateLimitPolicy } from './rate-limit-policy';

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
    expect(sut.limitFor(['operator'])).toEqual({ limit: 100, windowMs: 60_000 });
  });

  it('applies the strictest of several roles (lowest rate)', () => {
    expect(sut.limitFor(['admin', 'viewer'])).toEqual({ limit: 10, windowMs: 60_000 });
    // 300/hour (5/minute) is stricter than 10/minute.
    expect(sut.limitFor(['viewer', 'hourly'])).toEqual({ limit: 300, windowMs: 3_600_000 });
  });

  it('uses default for roles without a limit and for principals without roles', () => {
    expect(sut.limitFor(['custom'])).toEqual({ limit: 60, windowMs: 60_000 });
    expect(sut.limitFor([])).toEqual({ limit: 60, windowMs: 60_000 });
  });

  it('does not limit when the policy has no limit for the roles and no default', () => {
    const none = new RateLimitPolicy({ admin: limit('5/second') });
    expect(none.limitFor(['operator'])).toBeUndefined();
    expect(none.limitFor(['operator', 'admin'])).toEqual({ limit: 5, windowMs: 1_000 });
  });
});
