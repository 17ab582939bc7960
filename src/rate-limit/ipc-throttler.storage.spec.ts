import { EventEmitter } from 'node:events';
import type { Worker } from 'node:cluster';
import { ServiceUnavailableError } from '../common/errors';
import type { IpcChannel } from '../common/ipc-channel';
import { IpcThrottlerStorage, serveRateLimits } from './ipc-throttler.storage';
import { MemoryThrottlerStorage } from './memory-throttler.storage';

/** A worker's `process` and the primary's `Worker` for it, joined in memory like node's IPC. */
function link(store: MemoryThrottlerStorage) {
  const toWorker = new EventEmitter();
  const toPrimary = new EventEmitter();
  const sent: unknown[] = [];
  const channel = Object.assign(toWorker, {
    connected: true,
    send(message: unknown, callback?: (error: Error | null) => void) {
      sent.push(message);
      setImmediate(() => toPrimary.emit('message', JSON.parse(JSON.stringify(message))));
      callback?.(null);
      return true;
    },
  });
  const worker = Object.assign(toPrimary, {
    isConnected: () => channel.connected,
    send(message: unknown) {
      setImmediate(() => toWorker.emit('message', JSON.parse(JSON.stringify(message))));
      return true;
    },
  });
  serveRateLimits(worker as unknown as Worker, store);
  return { channel: channel as unknown as IpcChannel & EventEmitter, sent };
}

describe('IpcThrottlerStorage', () => {
  it('counts the hits of every worker in the primary’s one store', async () => {
    const store = new MemoryThrottlerStorage();
    const a = new IpcThrottlerStorage(link(store).channel);
    const b = new IpcThrottlerStorage(link(store).channel);
    const first = await a.increment('default:client:x', 60_000, 3);
    const second = await b.increment('default:client:x', 60_000, 3);
    const third = await a.increment('default:client:x', 60_000, 3);
    const fourth = await b.increment('default:client:x', 60_000, 3);
    expect([first, second, third, fourth].map((r) => r.totalHits)).toEqual([1, 2, 3, 4]);
    expect(fourth).toMatchObject({ isBlocked: true, timeToExpire: 60, timeToBlockExpire: 60 });
    expect(third.isBlocked).toBe(false);
  });

  it('peeks at a counter in the primary without counting', async () => {
    const store = new MemoryThrottlerStorage();
    const sut = new IpcThrottlerStorage(link(store).channel);
    expect(await sut.peek('default:client:y', 60_000, 3)).toMatchObject({ totalHits: 0 });
    await sut.increment('default:client:y', 60_000, 3);
    expect(await sut.peek('default:client:y', 60_000, 3)).toMatchObject({ totalHits: 1 });
    expect(await sut.peek('default:client:y', 60_000, 3)).toMatchObject({ totalHits: 1 });
    expect(store.size).toBe(1);
  });

  it('sends the hits of one event-loop turn in one message', async () => {
    const store = new MemoryThrottlerStorage();
    const { channel, sent } = link(store);
    const sut = new IpcThrottlerStorage(channel);
    const records = await Promise.all(
      Array.from({ length: 20 }, (_, i) => sut.increment(`k${i % 2}`, 1_000, 100)),
    );
    expect(sent).toHaveLength(1);
    expect(records.filter((_, i) => i % 2 === 0).map((r) => r.totalHits)).toEqual([
      1, 2, 3, 4, 5, 6, 7, 8, 9, 10,
    ]);
  });

  it('fails closed (503) when the primary is gone', async () => {
    const { channel } = link(new MemoryThrottlerStorage());
    const sut = new IpcThrottlerStorage(channel);
    channel.connected = false;
    await expect(sut.increment('k', 1_000, 1)).rejects.toBeInstanceOf(ServiceUnavailableError);
  });

  it('rejects the hits in flight when the channel closes', async () => {
    const channel = Object.assign(new EventEmitter(), { connected: true, send: () => true });
    const sut = new IpcThrottlerStorage(channel as unknown as IpcChannel);
    const pending = sut.increment('k', 1_000, 1);
    await new Promise((r) => setImmediate(r));
    channel.emit('disconnect');
    await expect(pending).rejects.toThrow('Rate limit store unavailable');
  });
});
