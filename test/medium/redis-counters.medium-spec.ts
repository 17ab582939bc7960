import { randomUUID } from 'node:crypto';
import { RedisThrottlerStorage } from '../../src/rate-limit/redis-throttler.storage';
import { startTestRedis, TestRedis } from '../support/redis';

/** The Redis request counters against a real Redis: counting, and peeking without counting. */
describe('RedisThrottlerStorage', () => {
  let redis: TestRedis;
  let sut: RedisThrottlerStorage;

  beforeAll(async () => {
    redis = await startTestRedis();
    sut = new RedisThrottlerStorage(redis.url, `test-${randomUUID()}:`);
    await sut.connect();
  });

  afterAll(async () => {
    await sut?.close();
    await redis?.stop();
  });

  it('counts hits in a window and peeks at them without counting', async () => {
    const key = 'default:client:peek';
    expect(await sut.peek(key, 60_000, 2)).toMatchObject({ totalHits: 0, timeToExpire: 60 });
    expect(await sut.increment(key, 60_000, 2)).toMatchObject({ totalHits: 1, isBlocked: false });
    expect(await sut.peek(key, 60_000, 2)).toMatchObject({ totalHits: 1, isBlocked: false });
    expect(await sut.increment(key, 60_000, 2)).toMatchObject({ totalHits: 2 });
    expect(await sut.increment(key, 60_000, 2)).toMatchObject({ totalHits: 3, isBlocked: true });
    const peeked = await sut.peek(key, 60_000, 2);
    expect(peeked).toMatchObject({ totalHits: 3, isBlocked: true });
    expect(peeked.timeToExpire).toBeLessThanOrEqual(60);
  });
});
