import { Inject, Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import type { FastifyReply } from 'fastify';
import Redis from 'ioredis';
import type { Principal } from '../access/principal';
import {
  InsufficientQuotaError,
  RateLimitedError,
  ServiceUnavailableError,
} from '../common/errors';
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

type Kind = 'requests' | 'tokens' | 'budget';

/** One counter a request is checked against: an amount per window for one key. */
interface CounterCheck {
  kind: Kind;
  key: string;
  limit: number;
  window: LimitWindow;
  resetAt: number;
  amount: number;
  text: string;
}

/** What a store answers: whether every counter had room, and each counter's value after. */
interface ReserveResult {
  /** Index of the first counter without room, or -1. */
  refused: number;
  values: number[];
}

/** Counters shared by the replicas (Redis) or kept by this process (memory). */
interface CounterStore {
  reserve(checks: CounterCheck[]): Promise<ReserveResult>;
  add(entries: Array<{ key: string; amount: number; resetAt: number }>): Promise<void>;
  close(): Promise<void>;
}

/** What `reserve` hands back: the settle hook and the numbers for the x-ratelimit headers. */
export interface Reservation {
  settle: (usage: SettledUsage | undefined) => void;
}

const WINDOW_SECONDS: Record<LimitWindow, number> = {
  minute: 60,
  hour: 3600,
  day: 86_400,
  month: 2_592_000,
};

/**
 * Reserve: every counter has room for its amount (and is not already spent), else nothing is
 * added. One round trip, atomic, so replicas cannot both take the last tokens.
 * KEYS: counters; ARGV: limit, amount, reset-at (ms) per counter. Returns the refused index (0:
 * none, else 1-based) and every counter's value as strings (Lua numbers lose fractions).
 */
const RESERVE_SCRIPT = `
local values = {}
local refused = 0
for i, key in ipairs(KEYS) do
  local used = tonumber(redis.call('GET', key) or '0')
  local limit = tonumber(ARGV[(i - 1) * 3 + 1])
  local amount = tonumber(ARGV[(i - 1) * 3 + 2])
  values[i] = used
  if refused == 0 and (used >= limit or used + amount > limit) then refused = i end
end
if refused == 0 then
  for i, key in ipairs(KEYS) do
    values[i] = tonumber(redis.call('INCRBYFLOAT', key, ARGV[(i - 1) * 3 + 2]))
    redis.call('PEXPIREAT', key, ARGV[(i - 1) * 3 + 3])
  end
end
local out = {tostring(refused)}
for i = 1, #values do out[i + 1] = tostring(values[i]) end
return out
`;

/** Settle: add each delta (the real usage minus the reservation), keeping the expiry. */
const SETTLE_SCRIPT = `
for i, key in ipairs(KEYS) do
  redis.call('INCRBYFLOAT', key, ARGV[(i - 1) * 2 + 1])
  redis.call('PEXPIREAT', key, ARGV[(i - 1) * 2 + 2])
end
return #KEYS
`;

type LimiterClient = Redis & {
  tesseraReserve(...args: Array<string | number>): Promise<string[]>;
  tesseraSettle(...args: Array<string | number>): Promise<number>;
};

class RedisCounterStore implements CounterStore {
  private readonly logger = new Logger('GatewayLimits');
  private readonly client: LimiterClient;
  private lastWarning = 0;

  constructor(url: string) {
    this.client = new Redis(url, {
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      commandTimeout: 1000,
      connectTimeout: 2000,
      lazyConnect: true,
    }) as LimiterClient;
    this.client.defineCommand('tesseraReserve', { lua: RESERVE_SCRIPT });
    this.client.defineCommand('tesseraSettle', { lua: SETTLE_SCRIPT });
    this.client.on('error', (error: Error) => this.warn(error.message));
  }

  async connect(): Promise<void> {
    await this.client.connect().catch((error: Error) => this.warn(error.message));
  }

  async reserve(checks: CounterCheck[]): Promise<ReserveResult> {
    try {
      const args: Array<string | number> = [checks.length, ...checks.map((c) => c.key)];
      for (const c of checks) args.push(c.limit, c.amount, c.resetAt + 1000);
      const [refused, ...values] = await this.client.tesseraReserve(...args);
      return { refused: Number(refused) - 1, values: values.map(Number) };
    } catch (error) {
      // Fail closed, as the request limiter does: an unnoticed open limit is an outage too.
      this.warn((error as Error).message);
      throw new ServiceUnavailableError('Usage limit store unavailable');
    }
  }

  async add(entries: Array<{ key: string; amount: number; resetAt: number }>): Promise<void> {
    if (!entries.length) return;
    const args: Array<string | number> = [entries.length, ...entries.map((e) => e.key)];
    for (const e of entries) args.push(e.amount, e.resetAt + 1000);
    await this.client.tesseraSettle(...args).catch((error: Error) => this.warn(error.message));
  }

  async close(): Promise<void> {
    await this.client.quit().catch(() => this.client.disconnect());
  }

  private warn(message: string): void {
    if (Date.now() - this.lastWarning < 10_000) return;
    this.lastWarning = Date.now();
    this.logger.warn(`Redis (usage limits): ${message}`);
  }
}

class MemoryCounterStore implements CounterStore {
  private readonly counters = new Map<string, { value: number; resetAt: number }>();

  async reserve(checks: CounterCheck[]): Promise<ReserveResult> {
    const now = Date.now();
    const current = checks.map((c) => {
      const entry = this.counters.get(c.key);
      return entry && entry.resetAt > now ? entry.value : 0;
    });
    const refused = checks.findIndex(
      (c, i) => current[i] >= c.limit || current[i] + c.amount > c.limit,
    );
    if (refused >= 0) return { refused, values: current };
    if (this.counters.size > 100_000) this.sweep(now);
    return {
      refused: -1,
      values: checks.map((c, i) => {
        const value = current[i] + c.amount;
        this.counters.set(c.key, { value, resetAt: c.resetAt });
        return value;
      }),
    };
  }

  async add(entries: Array<{ key: string; amount: number; resetAt: number }>): Promise<void> {
    for (const e of entries) {
      const entry = this.counters.get(e.key);
      if (entry && entry.resetAt > Date.now()) entry.value += e.amount;
    }
  }

  async close(): Promise<void> {}

  private sweep(now: number): void {
    for (const [key, entry] of this.counters) if (entry.resetAt <= now) this.counters.delete(key);
  }
}

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
 * per role, a client's or API key's own `token_limit`, `budget` and `rate_limit`, and a token's
 * `rate_limit` claim: requests per minute for that token). Every limit that applies is enforced,
 * so the strictest wins. Before forwarding, the request reserves its prompt (estimated) plus its
 * `max_tokens` against every token counter and their price against every budget; when the answer
 * ends the reservation is settled to the real usage. Counters are shared through Redis when the
 * policy's `rate_limit_backend` is redis (atomic Lua scripts), else kept in memory.
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
    this.store =
      policy.rateLimitBackend === 'redis' && policy.redisUrl
        ? new RedisCounterStore(policy.redisUrl)
        : new MemoryCounterStore();
  }

  async onModuleInit(): Promise<void> {
    if (this.store instanceof RedisCounterStore) await this.store.connect();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.store.close();
  }

  /**
   * Checks and reserves; sets the `x-ratelimit-*` headers on `reply`. Throws 429
   * `rate_limit_exceeded` (requests, tokens) or `insufficient_quota` (budget), with Retry-After.
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
    if (!checks.length) {
      this.requestHeaders(reply, undefined, now);
      return { settle: () => undefined };
    }
    const result = await this.store.reserve(checks);
    const after = (kind: Kind) => this.tightest(checks, result.values, kind);
    this.requestHeaders(reply, after('requests'), now);
    const tokens = after('tokens');
    if (tokens) {
      reply.header('x-ratelimit-limit-tokens', tokens.check.limit);
      reply.header('x-ratelimit-remaining-tokens', Math.max(0, Math.floor(tokens.remaining)));
      reply.header('x-ratelimit-reset-tokens', duration(tokens.check.resetAt - now));
    }
    if (result.refused >= 0) {
      const check = checks[result.refused];
      const retryAfter = Math.max(1, Math.ceil((check.resetAt - now) / 1000));
      const left = Math.max(0, check.limit - result.values[result.refused]);
      if (check.kind === 'budget')
        throw new InsufficientQuotaError(
          `Budget spent: ${check.text} US dollars (${left.toFixed(6)} left; this request may cost up to ${check.amount.toFixed(6)})`,
          retryAfter,
        );
      throw new RateLimitedError(
        retryAfter,
        check.kind === 'tokens'
          ? `Token limit reached: ${check.text} (${Math.floor(left)} left; this request needs up to ${check.amount})`
          : `Request limit reached: ${check.text}`,
      );
    }
    let settled = false;
    return {
      settle: (usage) => {
        if (settled) return;
        settled = true;
        const deltas = checks
          .filter((c) => c.kind !== 'requests')
          .map((c) => {
            const real = !usage
              ? 0
              : c.kind === 'tokens'
                ? usage.promptTokens + usage.completionTokens
                : usage.costUsd;
            return { key: c.key, amount: real - c.amount, resetAt: c.resetAt };
          })
          .filter((d) => d.amount !== 0);
        void this.store.add(deltas);
      },
    };
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
    const add = (kind: Kind, limit: AmountLimit | undefined, amount: number, scope = who) => {
      if (!limit) return;
      const window = windowOf(limit.window, now);
      const key = `${this.prefix}${kind}:${scope}:${limit.window}:${window.key}`;
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
    // Requests: the grant's own rate_limit, and a token's `rate_limit` claim (per minute, per token).
    add('requests', this.parse(limits.rate_limit, false), 1);
    const claim = principal.claims.rate_limit;
    if (typeof claim === 'number' && claim > 0 && principal.tokenId)
      add(
        'requests',
        { amount: Math.floor(claim), window: 'minute', text: `${Math.floor(claim)}/minute` },
        1,
        `jti:${principal.tokenId}`,
      );
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

  /**
   * `x-ratelimit-*-requests`: the tightest of the gateway's own request counters and the
   * request limit the rate-limit guard applied (its `RateLimit-*` headers).
   */
  private requestHeaders(
    reply: FastifyReply,
    own: { check: CounterCheck; remaining: number } | undefined,
    now: number,
  ): void {
    const guardLimit = Number(reply.getHeader('RateLimit-Limit'));
    const guardRemaining = Number(reply.getHeader('RateLimit-Remaining'));
    const guardReset = Number(reply.getHeader('RateLimit-Reset'));
    const useOwn = own && (!Number.isFinite(guardRemaining) || own.remaining < guardRemaining);
    if (useOwn) {
      reply.header('x-ratelimit-limit-requests', own.check.limit);
      reply.header('x-ratelimit-remaining-requests', Math.max(0, Math.floor(own.remaining)));
      reply.header('x-ratelimit-reset-requests', duration(own.check.resetAt - now));
    } else if (Number.isFinite(guardLimit)) {
      reply.header('x-ratelimit-limit-requests', guardLimit);
      reply.header('x-ratelimit-remaining-requests', guardRemaining);
      reply.header(
        'x-ratelimit-reset-requests',
        `${Number.isFinite(guardReset) ? guardReset : 0}s`,
      );
    }
  }
}

/** OpenAI's reset format: `1s`, `6m0s`, `2h3m4s`. */
export function duration(ms: number): string {
  let seconds = Math.max(0, Math.ceil(ms / 1000));
  const hours = Math.floor(seconds / 3600);
  seconds -= hours * 3600;
  const minutes = Math.floor(seconds / 60);
  seconds -= minutes * 60;
  return `${hours ? `${hours}h` : ''}${hours || minutes ? `${minutes}m` : ''}${seconds}s`;
}
