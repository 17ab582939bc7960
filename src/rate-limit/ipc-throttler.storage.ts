import type { Worker } from 'node:cluster';
import type { ThrottlerStorageRecord } from '@nestjs/throttler/dist/throttler-storage-record.interface';
import { ServiceUnavailableError } from '../common/errors';
import { PendingCalls, type IpcChannel } from '../common/ipc-channel';
import { MemoryThrottlerStorage } from './memory-throttler.storage';
import type { RequestCounterStore } from './request-counter-store';

/** A hit asked of the primary: [id, key, ttl ms, limit, amount (1 counts, 0 only reads)]. */
type Hit = [number, string, number, number, number];
/** Its answer: [id, totalHits, timeToExpire s, blocked (1/0), timeToBlockExpire s]. */
type Answer = [number, number, number, number, number];

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
 * would count. The hits of one event-loop turn travel in one IPC message and come back in one, so
 * the cost per request stays small under load. If the primary is gone, limited routes fail closed
 * with 503, as with an unreachable Redis.
 */
export class IpcThrottlerStorage implements RequestCounterStore {
  private queue: Hit[] = [];
  private readonly pending = new PendingCalls<ThrottlerStorageRecord>(unavailable);

  constructor(private readonly channel: IpcChannel = process as unknown as IpcChannel) {
    channel.on('message', (message) => {
      if (isAnswers(message)) this.settle(message.answers);
    });
    channel.on('disconnect', () => this.pending.failAll());
  }

  increment(key: string, ttl: number, limit: number): Promise<ThrottlerStorageRecord> {
    return this.ask(key, ttl, limit, 1);
  }

  peek(key: string, ttl: number, limit: number): Promise<ThrottlerStorageRecord> {
    return this.ask(key, ttl, limit, 0);
  }

  private ask(
    key: string,
    ttl: number,
    limit: number,
    amount: number,
  ): Promise<ThrottlerStorageRecord> {
    if (!this.channel.connected || !this.channel.send) return Promise.reject(unavailable());
    const { id, answer } = this.pending.open();
    if (this.queue.push([id, key, ttl, limit, amount]) === 1) setImmediate(() => this.flush());
    return answer;
  }

  private flush(): void {
    const hits = this.queue;
    this.queue = [];
    const fail = () => {
      for (const [id] of hits) this.pending.fail(id);
    };
    try {
      this.channel.send?.({ tessera: 'rate-limit', hits } satisfies HitsMessage, (error) => {
        if (error) fail();
      });
    } catch {
      fail();
    }
  }

  private settle(answers: Answer[]): void {
    for (const [id, totalHits, timeToExpire, blocked, timeToBlockExpire] of answers)
      this.pending.settle(id, {
        totalHits,
        timeToExpire,
        isBlocked: blocked === 1,
        timeToBlockExpire,
      });
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
    const answers = message.hits.map(([id, key, ttl, limit, amount]): Answer => {
      const record = store.hit(key, ttl, limit, amount === 0 ? 0 : 1);
      return [
        id,
        record.totalHits,
        record.timeToExpire,
        record.isBlocked ? 1 : 0,
        record.timeToBlockExpire,
      ];
    });
    worker.send({ tessera: 'rate-limit', answers } satisfies AnswersMessage);
  });
}
