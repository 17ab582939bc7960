import type { ThrottlerStorage } from '@nestjs/throttler';
import type { ThrottlerStorageRecord } from '@nestjs/throttler/dist/throttler-storage-record.interface';

/**
 * Where request counters live (memory, the cluster primary, Redis): @nestjs/throttler's storage
 * interface, plus `peek` — a counter's state without counting, for answers that report the
 * caller's allowance without spending it (a 403 on the OpenAI surface).
 */
export interface RequestCounterStore extends ThrottlerStorage {
  peek(key: string, ttl: number, limit: number): Promise<ThrottlerStorageRecord>;
  /**
   * The hit counted at once, when the store can without waiting (memory; a cluster worker's
   * lease); undefined when it must ask (the primary, Redis) — then `increment` is the way.
   */
  incrementNow?(key: string, ttl: number, limit: number): ThrottlerStorageRecord | undefined;
}
