import { MemoryThrottlerStorage } from './memory-throttler.storage';

describe('MemoryThrottlerStorage', () => {
  it('counts hits in a fixed window and blocks after the limit', () => {
    let now = 1_000_000;
    const sut = new MemoryThrottlerStorage(() => now);
    const hits = [1, 2, 3].map(() => sut.hit('k', 60_000, 2));
    expect(hits.map((h) => h.totalHits)).toEqual([1, 2, 3]);
    expect(hits.map((h) => h.isBlocked)).toEqual([false, false, true]);
    expect(hits[2].timeToBlockExpire).toBe(60);
    now += 60_000;
    expect(sut.hit('k', 60_000, 2)).toMatchObject({ totalHits: 1, isBlocked: false });
  });

  it('counts at once through incrementNow, as increment does', async () => {
    const sut = new MemoryThrottlerStorage();
    expect(sut.incrementNow('k', 60_000, 1)).toMatchObject({ totalHits: 1, isBlocked: false });
    expect(await sut.increment('k', 60_000, 1)).toMatchObject({ totalHits: 2, isBlocked: true });
  });

  it('peeks without counting and without keeping a window for a key never hit', async () => {
    const sut = new MemoryThrottlerStorage(() => 0);
    expect(await sut.peek('fresh', 60_000, 2)).toMatchObject({ totalHits: 0, timeToExpire: 60 });
    expect(sut.size).toBe(0);
    sut.hit('k', 60_000, 2);
    sut.hit('k', 60_000, 2);
    expect(await sut.peek('k', 60_000, 2)).toMatchObject({ totalHits: 2, isBlocked: false });
    expect(sut.hit('k', 60_000, 2)).toMatchObject({ totalHits: 3, isBlocked: true });
  });

  it('stays bounded under a long run of distinct principals (no timer per hit, expired windows swept)', () => {
    let now = 0;
    const sut = new MemoryThrottlerStorage(() => now, 5_000);
    // Ten minutes of traffic, 1,000 new principals per second, each with a 1-second window.
    let peak = 0;
    for (let second = 0; second < 600; second++) {
      for (let i = 0; i < 1_000; i++) sut.hit(`p-${second}-${i}`, 1_000, 10);
      peak = Math.max(peak, sut.size);
      now += 1_000;
    }
    // At most the windows of the last sweep interval survive, never the 600,000 keys seen.
    expect(peak).toBeLessThanOrEqual(7_000);
    now += 10_000;
    sut.hit('last', 1_000, 10);
    expect(sut.size).toBe(1);
  });
});
