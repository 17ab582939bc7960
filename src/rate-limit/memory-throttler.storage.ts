import type { RequestCounterStore } from './request-counter-store';
import type { ThrottlerStorageRecord } from '@nestjs/throttler/dist/throttler-storage-record.interface';

interface Window {
  hits: number;
  resetAt: number;
}

/**
 * Fixed-window counters in one Map. Unlike @nestjs/throttler's default storage it starts no timer
 * per hit and never keeps a key past its window: expired windows are swept in one pass at most
 * every `sweepEveryMs`, during an increment, so memory follows the number of principals active
 * in the current window, however long the process runs.
 */
export class MemoryThrottlerStorage implements RequestCounterStore {
  private readonly windows = new Map<string, Window>();
  private nextSweep = 0;

  constructor(
    private readonly now: () => number = Date.now,
    private readonly sweepEveryMs = 5_000,
  ) {}

  get size(): number {
    return this.windows.size;
  }

  async increment(key: string, ttl: number, limit: number): Promise<ThrottlerStorageRecord> {
    return this.hit(key, ttl, limit);
  }

  incrementNow(key: string, ttl: number, limit: number): ThrottlerStorageRecord {
    return this.hit(key, ttl, limit);
  }

  async peek(key: string, ttl: number, limit: number): Promise<ThrottlerStorageRecord> {
    return this.hit(key, ttl, limit, 0);
  }

  /** Synchronous core of {@link increment} (`amount` 1) and {@link peek} (0: counts nothing). */
  hit(key: string, ttl: number, limit: number, amount = 1): ThrottlerStorageRecord {
    const now = this.now();
    if (now >= this.nextSweep) this.sweep(now);
    let window = this.windows.get(key);
    if (!window || window.resetAt <= now) {
      window = { hits: 0, resetAt: now + ttl };
      if (amount > 0) this.windows.set(key, window);
    }
    window.hits += amount;
    const timeToExpire = Math.max(1, Math.ceil((window.resetAt - now) / 1000));
    const isBlocked = window.hits > limit;
    return {
      totalHits: window.hits,
      timeToExpire,
      isBlocked,
      timeToBlockExpire: isBlocked ? timeToExpire : 0,
    };
  }

  /** Milliseconds until `key`'s window ends (0 when it has none). */
  resetInMs(key: string): number {
    const window = this.windows.get(key);
    return window ? Math.max(0, window.resetAt - this.now()) : 0;
  }

  private sweep(now: number): void {
    for (const [key, window] of this.windows) if (window.resetAt <= now) this.windows.delete(key);
    this.nextSweep = now + this.sweepEveryMs;
  }
}
