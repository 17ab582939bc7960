import type { Principal } from '../access/principal';
import type { RateLimit } from '../config/policy/auth-policy';
import { LimitWindow, parseAmountLimit } from '../config/policy/usage-limits';

export interface EffectiveLimit {
  limit: number;
  /** Window in milliseconds. */
  windowMs: number;
  /** The policy's limit as written ("100/minute"). */
  text: string;
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
    const effective = strictest && {
      limit: strictest.limit,
      windowMs: strictest.window * 1000,
      text: strictest.text,
    };
    if (this.cache.size > 10_000) this.cache.clear();
    this.cache.set(key, effective);
    return effective;
  }
}

/** One request counter a principal is checked against. */
export interface RequestCounter {
  /** Whose requests it counts: the principal's (all its tokens) or one token's. */
  scope: 'principal' | 'token';
  /** Appended to the counter's key: '' for the principal's main counter. */
  suffix: string;
  limit: number;
  windowMs: number;
  /** The 429's detail when this counter refuses. */
  detail: string;
  /** Which limit this is, for the refusal's audit event: as written, and where it comes from. */
  policy: string;
  /**
   * `role`: the policy's `rate_limits` for the principal's roles; `grant`: the client's or API
   * key's own `rate_limit`; `token_claim`: the token's numeric `rate_limit` claim.
   */
  source: 'role' | 'grant' | 'token_claim';
}

const GRANT_WINDOW_MS: Record<LimitWindow, number> = {
  minute: 60_000,
  hour: 3_600_000,
  day: 86_400_000,
  // A fixed 30-day window from the first request (request counters are TTL windows).
  month: 2_592_000_000,
};

/**
 * Every request limit that applies to a principal, worked out once per combination and then
 * looked up from memory (no parsing, no regex per request):
 * - its roles' limit ({@link RateLimitPolicy}: the strictest role wins);
 * - its client's or API key's own `rate_limit` (the `limits.rate_limit` claim Tessera puts in a
 *   client's tokens and on an API key's principal): on the same window it lowers the role's
 *   counter, on another window it is a second counter of the same principal;
 * - a token's `rate_limit` claim (a number: requests per minute, as jwt-auth-service tokens
 *   carry), counted per token.
 * Every counter is enforced, so the strictest of them refuses first.
 */
export class RequestLimits {
  private readonly roles: RateLimitPolicy;
  private readonly plans = new Map<string, readonly RequestCounter[]>();

  constructor(limits: Record<string, RateLimit>) {
    this.roles = new RateLimitPolicy(limits);
  }

  countersFor(principal: Principal): readonly RequestCounter[] {
    const grant = (principal.claims.limits as { rate_limit?: unknown } | undefined)?.rate_limit;
    const claim = principal.claims.rate_limit;
    const grantText = typeof grant === 'string' ? grant : '';
    const claimValue = typeof claim === 'number' && Number.isFinite(claim) ? claim : 0;
    const key = `${principal.roles.join('\u0000')}\u0001${grantText}\u0001${claimValue}`;
    let plan = this.plans.get(key);
    if (!plan) {
      plan = Object.freeze(this.plan(principal.roles, grantText, claimValue));
      if (this.plans.size > 10_000) this.plans.clear();
      this.plans.set(key, plan);
    }
    return plan;
  }

  private plan(roles: readonly string[], grantText: string, claim: number): RequestCounter[] {
    const counters: RequestCounter[] = [];
    const role = this.roles.limitFor(roles);
    if (role)
      counters.push({
        scope: 'principal',
        suffix: '',
        limit: role.limit,
        windowMs: role.windowMs,
        detail: 'Too many requests',
        policy: role.text,
        source: 'role',
      });
    const grant = grantText ? parseAmountLimit(grantText, false) : undefined;
    if (grant) {
      const windowMs = GRANT_WINDOW_MS[grant.window];
      const detail = `Request limit reached: ${grant.text} (the client's or API key's rate_limit)`;
      const policy = grant.text;
      const same = counters.find((c) => c.windowMs === windowMs);
      if (!same)
        counters.push({
          scope: 'principal',
          suffix: '',
          limit: grant.amount,
          windowMs,
          detail,
          policy,
          source: 'grant',
        });
      else if (grant.amount < same.limit)
        Object.assign(same, { limit: grant.amount, detail, policy, source: 'grant' });
      // Two principal counters on different windows need different keys.
      if (counters.length === 2) counters[1].suffix = `:${windowMs}`;
    }
    if (claim >= 1) {
      const limit = Math.floor(claim);
      counters.push({
        scope: 'token',
        suffix: '',
        limit,
        windowMs: 60_000,
        detail: `Request limit reached: ${limit}/minute (the token's rate_limit claim)`,
        policy: `${limit}/minute`,
        source: 'token_claim',
      });
    }
    return counters;
  }
}
