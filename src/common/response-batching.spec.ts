import Fastify from 'fastify';
import { ResponseBatching } from './response-batching';

describe('ResponseBatching', () => {
  it('holds the answers of one turn and releases them together, in order, unchanged', async () => {
    const sut = new ResponseBatching();
    const released: string[] = [];
    const answers = ['a', 'b', 'c'].map((p) => sut.hold(p).then((v) => released.push(v)));
    await Promise.resolve();
    expect(released).toEqual([]); // not within the turn that produced them
    await Promise.all(answers);
    expect(released).toEqual(['a', 'b', 'c']);
    // The next turn's answers form a batch of their own.
    await expect(sut.hold('d')).resolves.toBe('d');
  });

  it('answers real requests through Fastify, concurrent ones and errors alike', async () => {
    const fastify = Fastify();
    new ResponseBatching().install(fastify);
    fastify.get('/n/:n', async (request) => ({ n: Number((request.params as { n: string }).n) }));
    fastify.get('/boom', async () => {
      throw new Error('boom');
    });
    await fastify.listen({ port: 0, host: '127.0.0.1' });
    try {
      const base = `http://127.0.0.1:${(fastify.server.address() as { port: number }).port}`;
      const bodies = await Promise.all(
        Array.from({ length: 20 }, (_, i) => fetch(`${base}/n/${i}`).then((r) => r.json())),
      );
      expect(bodies).toEqual(Array.from({ length: 20 }, (_, i) => ({ n: i })));
      expect((await fetch(`${base}/boom`)).status).toBe(500);
    } finally {
      await fastify.close();
    }
  });
});
