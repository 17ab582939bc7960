import type { Worker } from 'node:cluster';
import type { ThrottlerStorageRecord } from '@nestjs/throttler/dist/throttler-storage-record.interface';
import { ServiceUnavailableError } from '../common/errors';
import { PendingCalls, type IpcChannel } from '../common/ipc-channel';
import { MemoryThrottlerStorage } from './memory-throttler.storage';
import type { RequestCounterStore } from './request-counter-store';

/**
 * A hit asked of the primary: [id, key, ttl ms, limit, amount (1 counts, 0 only reads), wants a
 * lease (1/0)].
 */
type Hit = [number, string, number, number, number, number];
/**
 * Its answer: [id, totalHits, timeToExpire s, blocked (1/0), timeToBlockExpire s, lease (hits
 * reserved for the worker to count itself), ms until the window ends].
 */
type Answer = [number, number, number, number, number, number, number];

/**
 * Hits the primary hands a worker to count itself: at most 0.5% of the limit and 256, and only
 * while the window has eight times that left — never near the limit, where every hit is counted
 * in the primary. Limits under 400 never lease.
 */
export function leaseFor(limit: number, totalHits: number): number {
  const size = Math.min(256, Math.floor(limit / 200));
  return size >= 2 && limit - totalHits >= 8 * size ? size : 0;
}

/** How much earlier than the primary's window a lease ends (the answer's time in transit). */
const LEASE_MARGIN_MS = 50;

/** Hits a worker may count itself until `expiresAt` (the primary has counted them already). */
interface Lease {
  left: number;
  /** The window's count when the lease was granted (this hit included). */
  base: number;
  used: number;
  expiresAt: number;
}

interface HitsMessage {
  tessera: 'rate-limit';
  hits: Hit[];
}
interface AnswersMessage {
  tessera: 'rate-limit';
  answers: Answer[];
}

function isHits(message: unknown): message is HitsMessage {
  return (
    (message as HitsMessage | null)?.tessera === 'rate-limit' &&
    Array.isArray((message as HitsMessage).hits)
  );
}

function isAnswers(message: unknown): message is AnswersMessage {
  return (
    (message as AnswersMessage | null)?.tessera === 'rate-limit' &&
    Array.isArray((message as AnswersMessage).answers)
  );
}

/**
 * The memory rate limiter of a cluster worker (WORKERS > 1 without Redis): the counters live in
 * the primary process, so all workers share one budget per principal, exactly as one process
 * would count. The hits of one event-loop turn travel in one IPC message and come back in one.
 * Far from a limit (see {@link leaseFor}), the primary also hands the worker a lease: hits it has
 * counted already, which the worker then counts itself without a message until they are used or
 * the window ends. No hit is ever admitted that the primary has not counted, so the limit holds
 * exactly; a worker that goes idle with hits left in its lease leaves them unused (at most 0.5%
 * of the limit per worker and window). Near the limit every hit goes to the primary. If the
 * primary is gone, limited routes fail closed with 503, as with an unreachable Redis.
 */
export class IpcThrottlerStorage implements RequestCounterStore {
  private queue: Hit[] = [];
  private readonly pending = new PendingCalls<ThrottlerStorageRecord>(unavailable);
  private readonly leases = new Map<string, Lease>();
  /** Keys with a lease asked for and not answered yet, by hit id (one lease at a time). */
  private readonly asking = new Map<number, string>();
  private readonly askingKeys = new Set<string>();

  constructor(private readonly channel: IpcChannel = process as unknown as IpcChannel) {
    channel.on('message', (message) => {
      if (isAnswers(message)) this.settle(message.answers);
    });
    channel.on('disconnect', () => {
      this.leases.clear();
      this.asking.clear();
      this.askingKeys.clear();
      this.pending.failAll();
    });
  }

  increment(key: string, ttl: number, limit: number): Promise<ThrottlerStorageRecord> {
    return this.ask(key, ttl, limit, 1);
  }

  peek(key: string, ttl: number, limit: number): Promise<ThrottlerStorageRecord> {
    return this.ask(key, ttl, limit, 0);
  }

  /** Counted against this worker's lease, when it holds one with room (no message). */
  incrementNow(key: string): ThrottlerStorageRecord | undefined {
    return this.channel.connected ? this.fromLease(key, 1) : undefined;
  }

  private ask(
    key: string,
    ttl: number,
    limit: number,
    amount: number,
  ): Promise<ThrottlerStorageRecord> {
    if (!this.channel.connected || !this.channel.send) return Promise.reject(unavailable());
    const leased = this.fromLease(key, amount);
    if (leased) return Promise.resolve(leased);
    const { id, answer } = this.pending.open();
    const wantsLease = amount > 0 && !this.askingKeys.has(key);
    if (wantsLease) {
      this.asking.set(id, key);
      this.askingKeys.add(key);
    }
    if (this.queue.push([id, key, ttl, limit, amount, wantsLease ? 1 : 0]) === 1)
      setImmediate(() => this.flush());
    return answer;
  }

  /** The hit counted against this worker's lease for `key`, if it holds one with room. */
  private fromLease(key: string, amount: number): ThrottlerStorageRecord | undefined {
    const lease = this.leases.get(key);
    if (!lease) return undefined;
    const now = Date.now();
    if (now >= lease.expiresAt || (amount > 0 && lease.left === 0)) {
      this.leases.delete(key);
      return undefined;
    }
    if (amount > 0) {
      lease.left -= 1;
      lease.used += 1;
    }
    const timeToExpire = Math.max(1, Math.ceil((lease.expiresAt - now) / 1000));
    return {
      totalHits: lease.base + lease.used,
      timeToExpire,
      isBlocked: false,
      timeToBlockExpire: 0,
    };
  }

  private flush(): void {
    const hits = this.queue;
    this.queue = [];
    const fail = () => {
      for (const [id] of hits) {
        this.forgetAsking(id);
        this.pending.fail(id);
      }
    };
    try {
      this.channel.send?.({ tessera: 'rate-limit', hits } satisfies HitsMessage, (error) => {
        if (error) fail();
      });
    } catch {
      fail();
    }
  }

  private forgetAsking(id: number): string | undefined {
    const key = this.asking.get(id);
    if (key === undefined) return undefined;
    this.asking.delete(id);
    this.askingKeys.delete(key);
    return key;
  }

  private settle(answers: Answer[]): void {
    const now = Date.now();
    for (const [
      id,
      totalHits,
      timeToExpire,
      blocked,
      timeToBlockExpire,
      lease,
      resetInMs,
    ] of answers) {
      const key = this.forgetAsking(id);
      if (key !== undefined && lease > 0) {
        if (this.leases.size >= 10_000) this.leases.clear(); // idle principals: their hits go unused
        // Ends a little before the primary's window does: a leased hit never lands in the next one.
        this.leases.set(key, {
          left: lease,
          base: totalHits,
          used: 0,
          expiresAt: now + resetInMs - LEASE_MARGIN_MS,
        });
      }
      this.pending.settle(id, {
        totalHits,
        timeToExpire,
        isBlocked: blocked === 1,
        timeToBlockExpire,
      });
    }
  }
}

function unavailable(): ServiceUnavailableError {
  return new ServiceUnavailableError('Rate limit store unavailable');
}

/**
 * The primary's side: answers a worker's hits from one {@link MemoryThrottlerStorage} shared by
 * every worker.
 */
export function serveRateLimits(worker: Worker, store: MemoryThrottlerStorage): void {
  worker.on('message', (message) => {
    if (!isHits(message) || !worker.isConnected()) return;
    const answers = message.hits.map(([id, key, ttl, limit, amount, wantsLease]): Answer => {
      const record = store.hit(key, ttl, limit, amount === 0 ? 0 : 1);
      const lease = wantsLease === 1 && !record.isBlocked ? leaseFor(limit, record.totalHits) : 0;
      if (lease > 0) store.hit(key, ttl, limit, lease); // counted now: the worker spends them
      return [
        id,
        record.totalHits,
        record.timeToExpire,
        record.isBlocked ? 1 : 0,
        record.timeToBlockExpire,
        lease,
        store.resetInMs(key),
      ];
    });
    worker.send({ tessera: 'rate-limit', answers } satisfies AnswersMessage);
  });
}
