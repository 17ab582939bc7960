import { Inject, Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import type { FastifyReply } from 'fastify';
import cluster from 'node:cluster';
import type { Principal } from '../access/principal';
import { formatResetDuration } from '../common/duration';
import { InsufficientQuotaError, RateLimitedError } from '../common/errors';
import { policyConfig } from '../config/configuration';
import {
  AmountLimit,
  LimitWindow,
  parseAmountLimit,
  windowOf,
} from '../config/policy/usage-limits';
import type { ModelEndpoint, SettledUsage } from './inference.service';
import { PriceBook } from './price-book';
import { textOf } from './echo-model';
import {
  CounterSpec,
  CounterStore,
  IpcCounterStore,
  MemoryCounterStore,
  RedisCounterStore,
} from './usage-counter-store';

type Kind = 'tokens' | 'budget';

/** One counter a request is checked against: an amount per window for one key. */
interface CounterCheck extends CounterSpec {
  kind: Kind;
  window: LimitWindow;
  text: string;
}

/** What `reserve` hands back: the settle hook. */
export interface Reservation {
  settle: (usage: SettledUsage | undefined) => void | Promise<void>;
}

const WINDOW_SECONDS: Record<LimitWindow, number> = {
  minute: 60,
  hour: 3600,
  day: 86_400,
  month: 2_592_000,
};

/** The strictest of several limits by rate (amount per second; the shorter window on a tie). */
function strictest(limits: AmountLimit[]): AmountLimit | undefined {
  let best: AmountLimit | undefined;
  for (const l of limits) {
    const rate = l.amount / WINDOW_SECONDS[l.window];
    const bestRate = best && best.amount / WINDOW_SECONDS[best.window];
    if (
      !best ||
      rate < (bestRate as number) ||
      (rate === bestRate && WINDOW_SECONDS[l.window] < WINDOW_SECONDS[best.window])
    )
      best = l;
  }
  return best;
}

function requestedTokens(endpoint: ModelEndpoint, body: Record<string, unknown>): number {
  const max = body.max_tokens ?? body.max_completion_tokens ?? body.max_output_tokens;
  let chars = 0;
  if (endpoint === '/v1/chat/completions' && Array.isArray(body.messages))
    for (const m of body.messages as Array<{ content?: unknown }>)
      chars += textOf(m.content).length;
  else {
    const input = body.prompt ?? body.input;
    chars = typeof input === 'string' ? input.length : JSON.stringify(input ?? '').length;
  }
  return Math.ceil(chars / 4) + (typeof max === 'number' ? max : 0);
}

/**
 * Token limits and budgets at the gateway (the policy's `auth.token_limits` and `auth.budgets`
 * per role, a client's or API key's own `token_limit` and `budget`). Every limit that applies is
 * enforced, so the strictest wins. Request limits (roles, a client's or API key's `rate_limit`, a
 * token's `rate_limit` claim) are the rate-limit guard's, on every route. Before forwarding, the
 * request reserves its prompt (estimated) plus its `max_tokens` against every token counter and
 * their price against every budget; when the answer ends the reservation is settled to the real
 * usage. Counters are shared through Redis when the policy's `rate_limit_backend` is redis
 * (atomic Lua scripts), through the cluster primary in a worker (WORKERS > 1), else kept in
 * memory.
 */
@Injectable()
export class UsageLimiter implements OnModuleInit, OnApplicationShutdown {
  private readonly store: CounterStore;
  private readonly prefix: string;
  private readonly tokenLimits: Record<string, AmountLimit>;
  private readonly budgets: Record<string, AmountLimit>;
  private readonly parsed = new Map<string, AmountLimit | undefined>();
  private readonly byRoles = new Map<string, { tokens?: AmountLimit; budget?: AmountLimit }>();
  constructor(
    @Inject(policyConfig.KEY) policy: ConfigType<typeof policyConfig>,
    private readonly prices: PriceBook,
  ) {
    this.tokenLimits = policy.tokenLimits;
    this.budgets = policy.budgets;
    this.prefix = `${policy.redisKeyPrefix}gw:`;
    const logger = new Logger('GatewayLimits');
    if (policy.rateLimitBackend === 'redis' && policy.redisUrl) {
      this.store = new RedisCounterStore(policy.redisUrl);
    } else if (cluster.isWorker) {
      // The same counters for every worker, held by the primary (as the request counters are).
      logger.log('Token limits and budgets: memory in the cluster primary');
      this.store = new IpcCounterStore();
    } else {
      this.store = new MemoryCounterStore();
    }
  }

  async onModuleInit(): Promise<void> {
    if (this.store instanceof RedisCounterStore) await this.store.connect();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.store.close();
  }

  /**
   * Checks and reserves; sets the `x-ratelimit-*-tokens` headers on `reply` when a token limit
   * applies. Throws 429 `rate_limit_exceeded` (tokens) or `insufficient_quota` (budget), with
   * Retry-After.
   */
  async reserve(
    principal: Principal,
    endpoint: ModelEndpoint,
    model: string,
    body: Record<string, unknown>,
    reply: FastifyReply,
  ): Promise<Reservation> {
    const now = Date.now();
    const checks = this.checksFor(principal, endpoint, model, body, now);
    if (!checks.length) return { settle: () => undefined };
    const result = await this.store.reserve(checks);
    this.tokenHeaders(checks, result.values, now, reply);
    if (result.refused >= 0) {
      const check = checks[result.refused];
      const retryAfter = Math.max(1, Math.ceil((check.resetAt - now) / 1000));
      const left = Math.max(0, check.limit - result.values[result.refused]);
      const gateway = { policy: check.text, model };
      if (check.kind === 'budget')
        throw new InsufficientQuotaError(
          `Budget spent: ${check.text} US dollars (${left.toFixed(6)} left; this request may cost up to ${check.amount.toFixed(6)})`,
          retryAfter,
          gateway,
        );
      throw new RateLimitedError(
        retryAfter,
        `Token limit reached: ${check.text} (${Math.floor(left)} left; this request needs up to ${check.amount})`,
        'token',
        gateway,
      );
    }
    let settled = false;
    return {
      settle: (usage) => {
        if (settled) return;
        settled = true;
        const deltas = checks
          .map((c) => {
            const real = !usage
              ? 0
              : c.kind === 'tokens'
                ? usage.promptTokens + usage.completionTokens
                : usage.costUsd;
            return { key: c.key, amount: real - c.amount, resetAt: c.resetAt };
          })
          .filter((d) => d.amount !== 0);
        // The answer's last bytes wait for this (see SettleHook).
        return this.store.add(deltas).catch(() => undefined);
      },
    };
  }

  /**
   * The `x-ratelimit-*-tokens` headers of a model call refused before its reservation (a bad
   * request, an unknown or forbidden model), where a token limit applies: what is left, nothing
   * spent (a reservation of zero).
   */
  async peek(principal: Principal, endpoint: ModelEndpoint, reply: FastifyReply): Promise<void> {
    const now = Date.now();
    const checks = this.checksFor(principal, endpoint, '', {}, now)
      .filter((c) => c.kind === 'tokens')
      .map((c) => ({ ...c, amount: 0 }));
    if (!checks.length) return;
    const result = await this.store.reserve(checks);
    this.tokenHeaders(checks, result.values, now, reply);
  }

  private tokenHeaders(
    checks: CounterCheck[],
    values: number[],
    now: number,
    reply: FastifyReply,
  ): void {
    const tokens = this.tightest(checks, values, 'tokens');
    if (!tokens) return;
    reply.header('x-ratelimit-limit-tokens', tokens.check.limit);
    reply.header('x-ratelimit-remaining-tokens', Math.max(0, Math.floor(tokens.remaining)));
    reply.header('x-ratelimit-reset-tokens', formatResetDuration(tokens.check.resetAt - now));
  }

  private checksFor(
    principal: Principal,
    endpoint: ModelEndpoint,
    model: string,
    body: Record<string, unknown>,
    now: number,
  ): CounterCheck[] {
    const who = `${principal.method}:${principal.subject}`;
    const roleLimits = this.roleLimits(principal.roles);
    const limits = (principal.claims.limits ?? {}) as Record<string, unknown>;
    const checks: CounterCheck[] = [];
    const add = (kind: Kind, limit: AmountLimit | undefined, amount: number) => {
      if (!limit) return;
      const window = windowOf(limit.window, now);
      const key = `${this.prefix}${kind}:${who}:${limit.window}:${window.key}`;
      // Two limits on the same window share one counter: keep the lower one.
      const same = checks.find((c) => c.key === key);
      if (same) {
        if (limit.amount < same.limit)
          Object.assign(same, { limit: limit.amount, text: limit.text });
        return;
      }
      checks.push({
        kind,
        key,
        limit: limit.amount,
        window: limit.window,
        resetAt: window.resetAt,
        amount,
        text: limit.text,
      });
    };
    const ownTokens = this.parse(limits.token_limit, false);
    const ownBudget = this.parse(limits.budget, true);
    if (roleLimits.tokens || ownTokens) {
      const tokens = requestedTokens(endpoint, body);
      add('tokens', roleLimits.tokens, tokens);
      add('tokens', ownTokens, tokens);
    }
    if (roleLimits.budget || ownBudget) {
      const tokens = requestedTokens(endpoint, body);
      const cost = this.prices.costOf(model, tokens, 0);
      add('budget', roleLimits.budget, cost);
      add('budget', ownBudget, cost);
    }
    return checks;
  }

  private roleLimits(roles: readonly string[]): { tokens?: AmountLimit; budget?: AmountLimit } {
    const key = roles.join('\u0000');
    let found = this.byRoles.get(key);
    if (!found) {
      const pick = (table: Record<string, AmountLimit>) =>
        strictest(
          (roles.length ? roles : ['default'])
            .map((r) => table[r] ?? table.default)
            .filter((l): l is AmountLimit => l !== undefined),
        );
      found = { tokens: pick(this.tokenLimits), budget: pick(this.budgets) };
      if (this.byRoles.size > 10_000) this.byRoles.clear();
      this.byRoles.set(key, found);
    }
    return found;
  }

  private parse(text: unknown, decimals: boolean): AmountLimit | undefined {
    if (typeof text !== 'string') return undefined;
    const key = `${decimals ? '$' : '#'}${text}`;
    if (!this.parsed.has(key)) {
      if (this.parsed.size > 10_000) this.parsed.clear();
      this.parsed.set(key, parseAmountLimit(text, decimals));
    }
    return this.parsed.get(key);
  }

  /** The counter of `kind` with the least room left after this request. */
  private tightest(checks: CounterCheck[], values: number[], kind: Kind) {
    let found: { check: CounterCheck; remaining: number } | undefined;
    checks.forEach((check, i) => {
      if (check.kind !== kind) return;
      const remaining = check.limit - values[i];
      if (!found || remaining < found.remaining) found = { check, remaining };
    });
    return found;
  }
}
