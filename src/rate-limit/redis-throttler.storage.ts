import { Logger } from '@nestjs/common';
import type { ThrottlerStorageRecord } from '@nestjs/throttler/dist/throttler-storage-record.interface';
import Redis from 'ioredis';
import { ServiceUnavailableError } from '../common/errors';
import type { RequestCounterStore } from './request-counter-store';

/**
 * One round trip, atomic: count the hit, start the window on the first hit, and report the time
 * left. Every replica increments the same key, so they share one budget.
 */
const HIT_SCRIPT = `
local hits = redis.call('INCR', KEYS[1])
if hits == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {hits, ttl}
`;

/** A counter's state without counting: hits so far (0 when absent) and the time left. */
const PEEK_SCRIPT = `
local hits = tonumber(redis.call('GET', KEYS[1]) or '0')
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then ttl = tonumber(ARGV[1]) end
return {hits, ttl}
`;

type HitClient = Redis & {
  tesseraHit(key: string, ttlMs: number): Promise<[number, number]>;
  tesseraPeek(key: string, ttlMs: number): Promise<[number, number]>;
};

/**
 * Fixed-window counters in Redis (`rate_limit_backend: redis`). Keys expire in Redis itself.
 * When Redis does not answer, requests FAIL CLOSED with 503 `Rate limit store unavailable`:
 * a limiter that silently lets everything through is an outage of the limit nobody notices.
 */
export class RedisThrottlerStorage implements RequestCounterStore {
  private readonly logger = new Logger('RateLimit');
  private readonly client: HitClient;
  private lastWarning = 0;

  constructor(
    url: string,
    private readonly prefix: string,
  ) {
    this.client = new Redis(url, {
      // Fail fast instead of queueing requests behind a dead connection.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      commandTimeout: 1000,
      connectTimeout: 2000,
      lazyConnect: true,
    }) as HitClient;
    this.client.defineCommand('tesseraHit', { numberOfKeys: 1, lua: HIT_SCRIPT });
    this.client.defineCommand('tesseraPeek', { numberOfKeys: 1, lua: PEEK_SCRIPT });
    this.client.on('error', (error: Error) => this.warn(error.message));
  }

  /** Connects at start; a Redis that is down at start is reported, and requests get 503. */
  async connect(): Promise<void> {
    try {
      await this.client.connect();
    } catch (error) {
      this.warn((error as Error).message);
    }
  }

  /**
   * Connected and answering (ioredis keeps reconnecting on its own while Redis is down):
   * readiness is red meanwhile, so a load balancer sends traffic elsewhere.
   */
  get isAvailable(): boolean {
    return this.client.status === 'ready';
  }

  increment(key: string, ttl: number, limit: number): Promise<ThrottlerStorageRecord> {
    return this.run('tesseraHit', key, ttl, limit);
  }

  peek(key: string, ttl: number, limit: number): Promise<ThrottlerStorageRecord> {
    return this.run('tesseraPeek', key, ttl, limit);
  }

  private async run(
    script: 'tesseraHit' | 'tesseraPeek',
    key: string,
    ttl: number,
    limit: number,
  ): Promise<ThrottlerStorageRecord> {
    let hits: number;
    let ttlMs: number;
    try {
      [hits, ttlMs] = await this.client[script](this.prefix + 'rl:' + key, ttl);
    } catch (error) {
      this.warn((error as Error).message);
      throw new ServiceUnavailableError('Rate limit store unavailable');
    }
    const timeToExpire = Math.max(1, Math.ceil(ttlMs / 1000));
    const isBlocked = hits > limit;
    return {
      totalHits: hits,
      timeToExpire,
      isBlocked,
      timeToBlockExpire: isBlocked ? timeToExpire : 0,
    };
  }

  async close(): Promise<void> {
    this.client.disconnect();
  }

  private warn(message: string): void {
    if (Date.now() - this.lastWarning < 10_000) return;
    this.lastWarning = Date.now();
    this.logger.warn(`Redis rate-limit store unavailable (${message}); limited routes answer 503`);
  }
}
