import { EventEmitter } from 'node:events';
import { ServiceUnavailableError } from '../common/errors';
import { ipcLink } from '../../test/support/ipc-link';
import type { IpcChannel } from '../common/ipc-channel';
import { IpcThrottlerStorage, serveRateLimits } from './ipc-throttler.storage';
import { MemoryThrottlerStorage } from './memory-throttler.storage';

/** A worker's store joined to the primary's one, in memory. */
const link = (store: MemoryThrottlerStorage) => ipcLink((worker) => serveRateLimits(worker, store));

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
