import { CanActivate, ExecutionContext, Inject, Injectable } from '@nestjs/common';
import { PATH_METADATA } from '@nestjs/common/constants';
import type { ConfigType } from '@nestjs/config';
import type { ThrottlerStorageRecord } from '@nestjs/throttler/dist/throttler-storage-record.interface';
import type { FastifyReply } from 'fastify';
import type { AuthenticatedRequest, Principal } from '../access/principal';
import { formatResetDuration } from '../common/duration';
import { RateLimitedError, ServiceUnavailableError } from '../common/errors';
import { policyConfig } from '../config/configuration';
import { RequestCounter, RequestLimits } from './rate-limit-policy';
import { MemoryThrottlerStorage } from './memory-throttler.storage';
import { RATE_LIMIT_STORE } from './rate-limit.module';
import type { RequestCounterStore } from './request-counter-store';

/**
 * Global guard #3 (rate limit), after authenticate and authorize, so refused requests do not
 * spend a budget. Every request limit of the principal is counted here, on every route
 * ({@link RequestLimits}): its roles' limit, its client's or API key's `rate_limit`, and its
 * token's `rate_limit` claim. The principal's counters are keyed `<method>:<subject>` (the client
 * or user of a token, the API key's id; the IP address for anonymous callers), a token's by its
 * `jti`. The counter with the least room left is the one reported: every limited response carries
 * `RateLimit-Limit`, `RateLimit-Remaining` and `RateLimit-Reset` (seconds), and on the OpenAI
 * surface (`/v1/*`) the same decision as `x-ratelimit-limit-requests`,
 * `x-ratelimit-remaining-requests` and `x-ratelimit-reset-requests` (OpenAI's `6m0s` format).
 * Headers set here stay on whatever the route answers afterwards (400, 403, 404, 429...). The
 * 429 adds `Retry-After`. Public routes, and principals without any limit, are not limited.
 *
 * The counters live in @nestjs/throttler's storage interface: in memory, in the cluster primary
 * (WORKERS > 1), or in Redis for several replicas (`rate_limit_backend`).
 */
@Injectable()
export class RateLimitGuard implements CanActivate {
  private readonly limits: RequestLimits;
  /** Per controller, worked out on its first request: does it serve the OpenAI surface? */
  private readonly openAi = new WeakMap<object, boolean>();
  /**
   * Where revocation routes count while the shared store (Redis, the cluster primary) does not
   * answer: this process's own counters, the same limits. Every other route fails closed (503).
   */
  private readonly local = new MemoryThrottlerStorage();

  constructor(
    @Inject(policyConfig.KEY) policy: ConfigType<typeof policyConfig>,
    @Inject(RATE_LIMIT_STORE) private readonly storage: RequestCounterStore,
  ) {
    this.limits = new RequestLimits(policy.rateLimits);
  }

  /**
   * Synchronous when the store counts at once (memory, a cluster worker's lease): Nest awaits
   * only a promise, so the common case takes no microtask turn.
   */
  canActivate(context: ExecutionContext): boolean | Promise<boolean> {
    const http = context.switchToHttp();
    const request = http.getRequest<AuthenticatedRequest>();
    const principal = request.user;
    if (!principal || request.routeRule?.kind === 'public') return true;
    const counters = this.limits.countersFor(principal);
    if (!counters.length) return true;
    let waiting = false;
    const records = counters.map((counter) => {
      const key = this.keyOf(counter, principal, request.ip);
      const now = this.storage.incrementNow?.(key, counter.windowMs, counter.limit);
      if (now) return now;
      waiting = true;
      return this.storage.increment(key, counter.windowMs, counter.limit, 0, 'default');
    });
    if (!waiting) return this.decide(context, counters, records as ThrottlerStorageRecord[]);
    const answered = Promise.all(records).then((all) => this.decide(context, counters, all));
    if (!isRevocation(request)) return answered;
    // Revoking a leaked token must not wait for Redis: during an outage these routes are
    // limited per replica instead of refused (an admin's `tokens:revoke` routes only).
    return answered.catch((error: unknown) => {
      if (!(error instanceof ServiceUnavailableError)) throw error;
      const local = counters.map((counter) =>
        this.local.incrementNow(
          this.keyOf(counter, principal, request.ip),
          counter.windowMs,
          counter.limit,
        ),
      );
      return this.decide(context, counters, local);
    });
  }

  /** Reports the allowance; refuses with 429 (and `Retry-After`) when a counter is over. */
  private decide(
    context: ExecutionContext,
    counters: readonly RequestCounter[],
    records: ThrottlerStorageRecord[],
  ): boolean {
    const refused = this.report(context, counters, records);
    if (refused >= 0) {
      const retryAfter = records[refused].timeToBlockExpire;
      context.switchToHttp().getResponse<FastifyReply>().header('Retry-After', retryAfter);
      const { detail, policy, source } = counters[refused];
      throw new RateLimitedError(retryAfter, detail, 'rate', undefined, { policy, source });
    }
    return true;
  }

  /**
   * For an answer refused before this guard ran (the permission check's 403): on the OpenAI
   * surface, the caller's allowance in the same headers, read without counting (refused requests
   * spend nothing). Never throws: a store that does not answer leaves the headers out.
   */
  async reportWithoutCounting(context: ExecutionContext): Promise<void> {
    const request = context.switchToHttp().getRequest<AuthenticatedRequest>();
    const principal = request.user;
    if (!principal || !this.isOpenAi(context)) return;
    const counters = this.limits.countersFor(principal);
    if (!counters.length) return;
    try {
      const records = await Promise.all(
        counters.map((c) =>
          this.storage.peek(this.keyOf(c, principal, request.ip), c.windowMs, c.limit),
        ),
      );
      this.report(context, counters, records);
    } catch {
      // the store is unavailable: the refusal goes out without the headers
    }
  }

  /**
   * Sets the limit headers from the counter with the least room left (on a tie, the one that
   * resets last); answers the index of the counter that refuses (the one blocked longest), or -1.
   */
  private report(
    context: ExecutionContext,
    counters: readonly RequestCounter[],
    records: ThrottlerStorageRecord[],
  ): number {
    let shown = 0;
    let refused = -1;
    for (let i = 0; i < counters.length; i++) {
      const room = counters[i].limit - records[i].totalHits;
      const shownRoom = counters[shown].limit - records[shown].totalHits;
      if (
        room < shownRoom ||
        (room === shownRoom && records[i].timeToExpire > records[shown].timeToExpire)
      )
        shown = i;
      if (
        records[i].isBlocked &&
        (refused < 0 || records[i].timeToBlockExpire > records[refused].timeToBlockExpire)
      )
        refused = i;
    }
    const limit = counters[shown].limit;
    const remaining = Math.max(0, limit - records[shown].totalHits);
    const reset = records[shown].timeToExpire;
    const reply = context.switchToHttp().getResponse<FastifyReply>();
    reply.header('RateLimit-Limit', limit);
    reply.header('RateLimit-Remaining', remaining);
    reply.header('RateLimit-Reset', reset);
    if (this.isOpenAi(context)) {
      reply.header('x-ratelimit-limit-requests', limit);
      reply.header('x-ratelimit-remaining-requests', remaining);
      reply.header('x-ratelimit-reset-requests', formatResetDuration(reset * 1000));
    }
    return refused;
  }

  private keyOf(counter: RequestCounter, principal: Principal, ip: string | undefined): string {
    const who = counter.scope === 'token' ? tokenTrackerOf(principal) : trackerOf(principal, ip);
    return `default:${who}${counter.suffix}`;
  }

  private isOpenAi(context: ExecutionContext): boolean {
    const controller = context.getClass();
    let openAi = this.openAi.get(controller);
    if (openAi === undefined) {
      const paths = [Reflect.getMetadata(PATH_METADATA, controller) as string | string[]].flat();
      openAi = paths.some((p) => {
        const path = String(p ?? '').replace(/^\/+/, '');
        return path === 'v1' || path.startsWith('v1/');
      });
      this.openAi.set(controller, openAi);
    }
    return openAi;
  }
}

export function trackerOf(principal: Principal, ip: string | undefined): string {
  if (principal.method === 'none') return `ip:${ip}`;
  return `${principal.method}:${principal.subject}`;
}

/**
 * One token's counter: by `jti`; a trusted issuer's token without one by its subject and `iat`
 * (tokens issued in the same second share a counter, which only errs on the strict side).
 */
function tokenTrackerOf(principal: Principal): string {
  if (principal.tokenId) return `jti:${principal.tokenId}`;
  const iat = principal.claims.iat;
  return `token:${principal.method}:${principal.subject}:${typeof iat === 'number' ? iat : 0}`;
}

/** A route that revokes tokens (permission `tokens:revoke`): see {@link RateLimitGuard.local}. */
function isRevocation(request: AuthenticatedRequest): boolean {
  const rule = request.routeRule;
  return rule?.kind === 'protected' && rule.permissions.includes(REVOKE_PERMISSION);
}

const REVOKE_PERMISSION = 'tokens:revoke';
