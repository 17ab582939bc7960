import { EventEmitter } from 'node:events';
import { ServiceUnavailableError } from '../common/errors';
import { ipcLink } from '../../test/support/ipc-link';
import {
  CounterSpec,
  IpcCounterStore,
  MemoryCounterStore,
  serveUsageLimits,
} from './usage-counter-store';
import type { IpcChannel } from '../common/ipc-channel';

/** A worker's store joined to the primary's one, in memory. */
const link = (store: MemoryCounterStore) => ipcLink((worker) => serveUsageLimits(worker, store));

const resetAt = Date.now() + 3_600_000;
const tokens = (amount: number): CounterSpec[] => [{ key: 'tokens:p', limit: 30, amount, resetAt }];

describe('MemoryCounterStore', () => {
  it('reserves all or nothing and lets a settlement free room', () => {
    const sut = new MemoryCounterStore();
    const both = (amount: number): CounterSpec[] => [
      { key: 'a', limit: 10, amount, resetAt },
      { key: 'b', limit: 5, amount, resetAt },
    ];
    expect(sut.reserveNow(both(4))).toEqual({ refused: -1, values: [4, 4] });
    expect(sut.reserveNow(both(2))).toEqual({ refused: 1, values: [4, 4] });
    sut.addNow([{ key: 'b', amount: -3, resetAt }]);
    expect(sut.reserveNow(both(2))).toEqual({ refused: -1, values: [6, 3] });
  });

  it('starts over once a window has ended', () => {
    let now = 1_000;
    const sut = new MemoryCounterStore(() => now);
    expect(sut.reserveNow([{ key: 'k', limit: 1, amount: 1, resetAt: 2_000 }]).refused).toBe(-1);
    expect(sut.reserveNow([{ key: 'k', limit: 1, amount: 1, resetAt: 2_000 }]).refused).toBe(0);
    now = 2_000;
    expect(sut.reserveNow([{ key: 'k', limit: 1, amount: 1, resetAt: 3_000 }]).refused).toBe(-1);
  });
});

describe('IpcCounterStore', () => {
  it('counts the tokens of every worker against the primary’s one counter', async () => {
    const store = new MemoryCounterStore();
    const a = new IpcCounterStore(link(store).channel);
    const b = new IpcCounterStore(link(store).channel);
    expect(await a.reserve(tokens(12))).toEqual({ refused: -1, values: [12] });
    expect(await b.reserve(tokens(12))).toEqual({ refused: -1, values: [24] });
    // Worker a settles to the real usage (6 instead of 12): worker b now has room for 12.
    await a.add([{ key: 'tokens:p', amount: -6, resetAt }]);
    expect(await b.reserve(tokens(13))).toEqual({ refused: 0, values: [18] });
    expect(await b.reserve(tokens(12))).toEqual({ refused: -1, values: [30] });
    expect(await a.reserve(tokens(1))).toEqual({ refused: 0, values: [30] });
  });

  it('resolves a settlement once the primary has applied it', async () => {
    const store = new MemoryCounterStore();
    const sut = new IpcCounterStore(link(store).channel);
    await sut.reserve(tokens(12));
    await sut.add([{ key: 'tokens:p', amount: -6, resetAt }]);
    // Read in the primary directly, no message in between: the settlement is there already.
    expect(store.reserveNow(tokens(0))).toEqual({ refused: -1, values: [6] });
  });

  it('does not wait more than a second for a primary that does not answer a settlement', async () => {
    const silent = Object.assign(new EventEmitter(), { connected: true, send: () => true });
    const sut = new IpcCounterStore(silent as unknown as IpcChannel);
    const started = Date.now();
    await sut.add([{ key: 'tokens:p', amount: -6, resetAt }]);
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    expect(Date.now() - started).toBeLessThan(3000);
  });

  it('sends the reservations and settlements of one event-loop turn in one message', async () => {
    const store = new MemoryCounterStore();
    const { channel, sent } = link(store);
    const sut = new IpcCounterStore(channel);
    const results = await Promise.all([
      sut.reserve(tokens(10)),
      sut.add([{ key: 'other', amount: 1, resetAt }]),
      sut.reserve(tokens(10)),
      sut.reserve(tokens(10)),
      sut.reserve(tokens(10)),
    ]);
    expect(sent).toHaveLength(1);
    expect(results.filter((r) => r !== undefined).map((r) => r?.refused)).toEqual([-1, -1, -1, 0]);
  });

  it('fails closed (503) when the primary is gone, and on a channel that closes', async () => {
    const { channel } = link(new MemoryCounterStore());
    const sut = new IpcCounterStore(channel);
    channel.connected = false;
    await expect(sut.reserve(tokens(1))).rejects.toBeInstanceOf(ServiceUnavailableError);

    const silent = Object.assign(new EventEmitter(), { connected: true, send: () => true });
    const other = new IpcCounterStore(silent as unknown as IpcChannel);
    const pending = other.reserve(tokens(1));
    await new Promise((r) => setImmediate(r));
    silent.emit('disconnect');
    await expect(pending).rejects.toThrow('Usage limit store unavailable');
  });
});
