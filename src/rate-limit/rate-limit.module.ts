import { Inject, Module, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import type { ThrottlerStorage } from '@nestjs/throttler';
import cluster from 'node:cluster';
import { policyConfig } from '../config/configuration';
import { IpcThrottlerStorage } from './ipc-throttler.storage';
import { MemoryThrottlerStorage } from './memory-throttler.storage';
import { RedisThrottlerStorage } from './redis-throttler.storage';

export const RATE_LIMIT_STORE = Symbol('RATE_LIMIT_STORE');

/**
 * Rate limits per role from the policy file: the counter store named by the policy's
 * `rate_limit_backend` (@nestjs/throttler's storage interface, in memory or in Redis). The guard
 * itself ({@link RateLimitGuard}) is registered by AuthModule as the third global guard, so it
 * runs after authentication and authorization.
 */
@Module({
  providers: [
    {
      provide: RATE_LIMIT_STORE,
      inject: [policyConfig.KEY],
      // A cluster worker (WORKERS > 1) counts in the primary, so the workers share one budget.
      useFactory: (policy: ConfigType<typeof policyConfig>): ThrottlerStorage =>
        policy.rateLimitBackend === 'redis' && policy.redisUrl
          ? new RedisThrottlerStorage(policy.redisUrl, policy.redisKeyPrefix)
          : cluster.isWorker
            ? new IpcThrottlerStorage()
            : new MemoryThrottlerStorage(),
    },
  ],
  exports: [RATE_LIMIT_STORE],
})
export class RateLimitModule implements OnModuleInit, OnApplicationShutdown {
  constructor(@Inject(RATE_LIMIT_STORE) private readonly store: ThrottlerStorage) {}

  async onModuleInit(): Promise<void> {
    if (this.store instanceof RedisThrottlerStorage) await this.store.connect();
  }

  async onApplicationShutdown(): Promise<void> {
    if (this.store instanceof RedisThrottlerStorage) await this.store.close();
  }
}
