import { EventEmitter } from 'node:events';
import { ServiceUnavailableError } from '../common/errors';
import { ipcLink } from '../../test/support/ipc-link';
import type { IpcChannel } from '../common/ipc-channel';
import { IpcThrottlerStorage, leaseFor, serveRateLimits } from './ipc-throttler.storage';
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

  it('far from the limit, counts leased hits in the worker without a message each', async () => {
    const store = new MemoryThrottlerStorage();
    const { channel, sent } = link(store);
    const sut = new IpcThrottlerStorage(channel);
    const first = await sut.increment('far', 60_000, 1_000_000);
    expect(first.totalHits).toBe(1);
    expect(store.hit('far', 60_000, 1_000_000, 0).totalHits).toBe(1 + 256); // the lease counted
    const next = [];
    for (let i = 0; i < 256; i++) next.push(await sut.increment('far', 60_000, 1_000_000));
    expect(sent).toHaveLength(1);
    expect(next.map((r) => r.totalHits)).toEqual(Array.from({ length: 256 }, (_, i) => i + 2));
    expect(next.every((r) => !r.isBlocked && r.timeToExpire === 60)).toBe(true);
    await sut.increment('far', 60_000, 1_000_000); // the lease is spent: the primary again
    expect(sent).toHaveLength(2);
  });

  it('counts a leased hit at once (incrementNow), and answers undefined without a lease', async () => {
    const store = new MemoryThrottlerStorage();
    const { channel, sent } = link(store);
    const sut = new IpcThrottlerStorage(channel);
    expect(sut.incrementNow('now')).toBeUndefined(); // nothing leased yet: ask the primary
    await sut.increment('now', 60_000, 1_000_000);
    expect(sut.incrementNow('now')).toMatchObject({ totalHits: 2, isBlocked: false });
    expect(sut.incrementNow('now')).toMatchObject({ totalHits: 3 });
    expect(sent).toHaveLength(1);
    expect(sut.incrementNow('other')).toBeUndefined();
  });

  it('leases nothing for small limits or near the limit, and never past the window', async () => {
    expect(leaseFor(399, 1)).toBe(0);
    expect(leaseFor(1_000, 1)).toBe(5);
    expect(leaseFor(1_000, 960)).toBe(5);
    expect(leaseFor(1_000, 961)).toBe(0);
    const store = new MemoryThrottlerStorage();
    const { channel, sent } = link(store);
    const sut = new IpcThrottlerStorage(channel);
    await sut.increment('short', 100, 1_000_000);
    await new Promise((r) => setTimeout(r, 120));
    const after = await sut.increment('short', 100, 1_000_000);
    expect(sent).toHaveLength(2);
    expect(after.totalHits).toBe(1); // a new window in the primary
  });

  it('keeps the limit exact across workers holding leases', async () => {
    const store = new MemoryThrottlerStorage();
    const workers = [0, 1, 2].map(() => new IpcThrottlerStorage(link(store).channel));
    let admitted = 0;
    for (let i = 0; i < 1_200; i++) {
      const record = await workers[i % 3].increment('shared', 60_000, 1_000);
      if (!record.isBlocked) admitted++;
    }
    // Never more than the limit; at most one unused lease (5 hits) per worker fewer.
    expect(admitted).toBeLessThanOrEqual(1_000);
    expect(admitted).toBeGreaterThanOrEqual(1_000 - 3 * 5);
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
