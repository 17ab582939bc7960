import { ExecutionContext, Injectable } from '@nestjs/common';
import { ThrottlerGuard, ThrottlerRequest } from '@nestjs/throttler';
import type { FastifyReply } from 'fastify';
import type { Principal } from '../auth/principal';
import { RateLimitedError } from '../common/errors';

interface TrackedRequest {
  ip: string;
  user?: Principal;
}

/**
 * Global guard #3 (rate limit), after authenticate and authorize, so refused requests do not
 * spend a budget. One budget per principal across all routes: `<method>:<subject>` (the client
 * or user of a token, the API key's id), the IP address for anonymous callers. Every limited
 * response carries `RateLimit-Limit`, `RateLimit-Remaining` and `RateLimit-Reset` (seconds); the
 * 429 adds `Retry-After`. Public routes are not limited.
 */
@Injectable()
export class RateLimitGuard extends ThrottlerGuard {
  protected override async getTracker(request: Record<string, unknown>): Promise<string> {
    return trackerOf(request as unknown as TrackedRequest);
  }

  protected override generateKey(_context: ExecutionContext, tracker: string, name: string) {
    return `${name}:${tracker}`;
  }

  protected override async handleRequest(props: ThrottlerRequest): Promise<boolean> {
    const { context, limit, ttl, throttler, blockDuration, getTracker, generateKey } = props;
    const http = context.switchToHttp();
    const request = http.getRequest<Record<string, unknown>>();
    const reply = http.getResponse<FastifyReply>();
    const key = generateKey(context, await getTracker(request, context), throttler.name ?? '');
    const record = await this.storageService.increment(
      key,
      ttl,
      limit,
      blockDuration,
      throttler.name ?? 'default',
    );
    reply.header('RateLimit-Limit', limit);
    reply.header('RateLimit-Remaining', Math.max(0, limit - record.totalHits));
    reply.header('RateLimit-Reset', record.timeToExpire);
    if (record.isBlocked) {
      reply.header('Retry-After', record.timeToBlockExpire);
      throw new RateLimitedError();
    }
    return true;
  }
}

export function trackerOf(request: TrackedRequest): string {
  const principal = request.user;
  if (!principal || principal.method === 'none') return `ip:${request.ip}`;
  return `${principal.method}:${principal.subject}`;
}
