import { CanActivate, ExecutionContext, Inject, Injectable } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import type { ThrottlerStorage } from '@nestjs/throttler';
import type { FastifyReply } from 'fastify';
import type { AuthenticatedRequest, Principal } from '../access/principal';
import { RateLimitedError } from '../common/errors';
import { policyConfig } from '../config/configuration';
import { RateLimitPolicy } from './rate-limit-policy';
import { RATE_LIMIT_STORE } from './rate-limit.module';

/**
 * Global guard #3 (rate limit), after authenticate and authorize, so refused requests do not
 * spend a budget. One budget per principal across all routes: `<method>:<subject>` (the client
 * or user of a token, the API key's id), the IP address for anonymous callers. The principal's
 * limit is looked up once per request. Every limited response carries `RateLimit-Limit`,
 * `RateLimit-Remaining` and `RateLimit-Reset` (seconds); the 429 adds `Retry-After`. Public
 * routes, and principals whose roles have no limit, are not limited.
 *
 * The counters live in @nestjs/throttler's storage interface: in memory, or in Redis for
 * several replicas (`rate_limit_backend`).
 */
@Injectable()
export class RateLimitGuard implements CanActivate {
  private readonly limits: RateLimitPolicy;

  constructor(
    @Inject(policyConfig.KEY) policy: ConfigType<typeof policyConfig>,
    @Inject(RATE_LIMIT_STORE) private readonly storage: ThrottlerStorage,
  ) {
    this.limits = new RateLimitPolicy(policy.rateLimits);
  }

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const http = context.switchToHttp();
    const request = http.getRequest<AuthenticatedRequest>();
    const principal = request.user;
    if (!principal || request.routeRule?.kind === 'public') return true;
    const limit = this.limits.limitFor(principal.roles);
    if (!limit) return true;
    const record = await this.storage.increment(
      `default:${trackerOf(principal, request.ip)}`,
      limit.windowMs,
      limit.limit,
      0,
      'default',
    );
    const reply = http.getResponse<FastifyReply>();
    reply.header('RateLimit-Limit', limit.limit);
    reply.header('RateLimit-Remaining', Math.max(0, limit.limit - record.totalHits));
    reply.header('RateLimit-Reset', record.timeToExpire);
    if (record.isBlocked) {
      reply.header('Retry-After', record.timeToBlockExpire);
      throw new RateLimitedError();
    }
    return true;
  }
}

export function trackerOf(principal: Principal, ip: string | undefined): string {
  if (principal.method === 'none') return `ip:${ip}`;
  return `${principal.method}:${principal.subject}`;
}
