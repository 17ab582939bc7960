import { Inject, Logger, Module, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import cluster from 'node:cluster';
import { policyConfig } from '../config/configuration';
import { IpcThrottlerStorage } from './ipc-throttler.storage';
import { MemoryThrottlerStorage } from './memory-throttler.storage';
import { RedisThrottlerStorage } from './redis-throttler.storage';
import type { RequestCounterStore } from './request-counter-store';

export const RATE_LIMIT_STORE = Symbol('RATE_LIMIT_STORE');

/**
 * Rate limits per role from the policy file: the counter store named by the policy's
 * `rate_limit_backend` (unset: Redis when REDIS_URL is set) (@nestjs/throttler's storage interface, in memory or in Redis). The guard
 * itself ({@link RateLimitGuard}) is registered by AuthModule as the third global guard, so it
 * runs after authentication and authorization.
 */
@Module({
  providers: [
    {
      provide: RATE_LIMIT_STORE,
      inject: [policyConfig.KEY],
      // A cluster worker (WORKERS > 1) counts in the primary, so the workers share one budget.
      useFactory: (policy: ConfigType<typeof policyConfig>): RequestCounterStore => {
        const logger = new Logger('RateLimit');
        if (policy.rateLimitBackend === 'redis' && policy.redisUrl) {
          logger.log(
            `Rate-limit store: Redis at ${redactUrl(policy.redisUrl)} (${policy.rateLimitBackendReason})`,
          );
          return new RedisThrottlerStorage(policy.redisUrl, policy.redisKeyPrefix);
        }
        if (cluster.isWorker) {
          logger.log(
            `Rate-limit store: memory in the cluster primary (${policy.rateLimitBackendReason})`,
          );
          return new IpcThrottlerStorage();
        }
        logger.log(`Rate-limit store: memory, per replica (${policy.rateLimitBackendReason})`);
        return new MemoryThrottlerStorage();
      },
    },
  ],
  exports: [RATE_LIMIT_STORE],
})
export class RateLimitModule implements OnModuleInit, OnApplicationShutdown {
  constructor(@Inject(RATE_LIMIT_STORE) private readonly store: RequestCounterStore) {}

  async onModuleInit(): Promise<void> {
    if (this.store instanceof RedisThrottlerStorage) await this.store.connect();
  }

  async onApplicationShutdown(): Promise<void> {
    if (this.store instanceof RedisThrottlerStorage) await this.store.close();
  }
}

/** A URL for a log line: host and port, never a password. */
function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.protocol}//${parsed.host}`;
  } catch {
    return 'REDIS_URL';
  }
}

/** Whether the rate-limit store can count right now (readiness). Memory always can. */
export function rateLimitStoreAvailable(store: object): boolean {
  return store instanceof RedisThrottlerStorage ? store.isAvailable : true;
}
