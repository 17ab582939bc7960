import type { RateLimit } from '../config/policy/auth-policy';

export interface EffectiveLimit {
  limit: number;
  /** Window in milliseconds. */
  windowMs: number;
}

/**
 * The policy's `rate_limits` compiled for lookups by role set. A principal with several roles
 * gets the STRICTEST of their limits (lowest requests per second; on a tie, the shorter window):
 * adding a role to a principal can never raise its budget by accident. A role without its own
 * limit uses `default`; with no `default`, such a role adds no limit. Undefined: not limited.
 */
export class RateLimitPolicy {
  private readonly cache = new Map<string, EffectiveLimit | undefined>();

  constructor(private readonly limits: Record<string, RateLimit>) {}

  limitFor(roles: readonly string[]): EffectiveLimit | undefined {
    const key = roles.join('\u0000');
    if (this.cache.has(key)) return this.cache.get(key);
    const candidates = (roles.length ? roles : ['default'])
      .map((role) => this.limits[role] ?? this.limits.default)
      .filter((limit): limit is RateLimit => limit !== undefined);
    let strictest: RateLimit | undefined;
    for (const candidate of candidates) {
      if (
        !strictest ||
        candidate.limit / candidate.window < strictest.limit / strictest.window ||
        (candidate.limit / candidate.window === strictest.limit / strictest.window &&
          candidate.window < strictest.window)
      )
        strictest = candidate;
    }
    const effective = strictest && { limit: strictest.limit, windowMs: strictest.window * 1000 };
    if (this.cache.size > 10_000) this.cache.clear();
    this.cache.set(key, effective);
    return effective;
  }
}
