import Fastify, { FastifyInstance } from 'fastify';
import { request } from 'node:http';
import { eventStream, HttpDrain } from './http-drain';

/** A real Fastify server with the drain's hooks: a slow route, an event stream, a quick one. */
async function serve(drain: HttpDrain): Promise<{ fastify: FastifyInstance; base: string }> {
  const fastify = Fastify();
  drain.install(fastify);
  fastify.get('/quick', async () => ({ ok: true }));
  fastify.get('/slow', async () => {
    await new Promise((resolve) => setTimeout(resolve, 400));
    return { ok: true };
  });
  fastify.get('/stream', (_request, reply) => {
    reply.hijack();
    eventStream(reply);
    reply.raw.writeHead(200, { 'content-type': 'text/event-stream' });
    reply.raw.write(': open\n\n'); // and never ends, as a live stream would not
  });
  await fastify.listen({ port: 0, host: '127.0.0.1' });
  return {
    fastify,
    base: `http://127.0.0.1:${(fastify.server.address() as { port: number }).port}`,
  };
}

/** Opens the event stream; resolves once its first bytes arrived. */
function openStream(base: string): Promise<() => void> {
  return new Promise((resolve, reject) => {
    const req = request(`${base}/stream`, (res) =>
      res.once('data', () => resolve(() => req.destroy())),
    );
    req.on('error', () => undefined);
    req.once('error', reject);
    req.end();
  });
}

describe('HttpDrain', () => {
  it('waits for a request in flight, not for an event stream, and counts every finished request out', async () => {
    const drain = new HttpDrain();
    const { fastify, base } = await serve(drain);
    try {
      for (let i = 0; i < 50; i++) await (await fetch(`${base}/quick`)).json();
      const closeStream = await openStream(base);
      const slow = fetch(`${base}/slow`, { headers: { connection: 'close' } });
      await new Promise((resolve) => setTimeout(resolve, 50)); // the slow one is in flight

      const started = Date.now();
      await drain.drain(fastify.server, 0, 5000);
      const waited = Date.now() - started;
      // It waited for /slow (~350 ms left), not for the stream nor the 50 answered ones.
      expect(waited).toBeGreaterThanOrEqual(250);
      expect(waited).toBeLessThan(2500);
      expect((await slow).status).toBe(200);
      closeStream();
    } finally {
      await fastify.close();
    }
  });

  it('answers with Connection: close once draining', async () => {
    const drain = new HttpDrain();
    const { fastify, base } = await serve(drain);
    try {
      expect((await fetch(`${base}/quick`)).headers.get('connection')).not.toBe('close');
      const slow = fetch(`${base}/slow`);
      await new Promise((resolve) => setTimeout(resolve, 50));
      const draining = drain.drain(fastify.server, 0, 5000);
      const answer = await slow;
      expect(answer.headers.get('connection')).toBe('close');
      await draining;
    } finally {
      await fastify.close();
    }
  });
});
