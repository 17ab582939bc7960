import type { FastifyInstance, FastifyReply } from 'fastify';
import type { Server } from 'node:http';
import { Server as NetServer } from 'node:net';

/**
 * Graceful HTTP shutdown without resetting keep-alive connections.
 *
 * Node's `http.Server.close()` destroys idle keep-alive sockets at once, so a client that has
 * just written its next request on one gets ECONNRESET: a failed request the server never saw.
 * Draining first stops accepting new connections only, and answers every request (in flight,
 * or arriving on an open connection) with `Connection: close`, so each client closes its socket
 * after a full answer. It waits until no ordinary request is in flight (event streams, which
 * their modules end on shutdown, are not waited for) and the open connections are gone or have
 * had `graceMs` to send their next request. Then the app closes (flush, database).
 */
export class HttpDrain {
  private draining = false;
  /** Replies not yet finished; a hijacked one (an SSE stream) counts as sent. */
  private readonly inFlight = new Set<FastifyReply>();

  /** Hooks: one Set insert/delete per request and one boolean test per response. */
  install(fastify: FastifyInstance): void {
    fastify.addHook('onRequest', (_request, reply, done) => {
      this.inFlight.add(reply);
      reply.raw.once('close', () => this.inFlight.delete(reply));
      done();
    });
    fastify.addHook('onSend', (_request, reply, payload, done) => {
      if (this.draining) reply.header('connection', 'close');
      done(null, payload);
    });
    fastify.addHook('preClose', (done) => {
      this.draining = true;
      done();
    });
  }

  private ordinaryInFlight(): number {
    let count = 0;
    for (const reply of this.inFlight) if (!reply.sent) count++;
    return count;
  }

  /**
   * Stops accepting; resolves when no ordinary request is in flight (at most `maxWaitMs`) and
   * the open connections have closed (at most `graceMs`).
   */
  async drain(server: Server, graceMs: number, maxWaitMs = 10_000): Promise<void> {
    this.draining = true;
    if (!server.listening) return;
    // net.Server's close: no new connections, but (unlike http.Server's) open ones stay.
    NetServer.prototype.close.call(server);
    const started = Date.now();
    while (Date.now() - started < maxWaitMs) {
      const open = await new Promise<number>((resolve) =>
        server.getConnections((error, count) => resolve(error ? 0 : count)),
      );
      const busy = this.ordinaryInFlight();
      if (busy === 0 && (open === 0 || Date.now() - started >= graceMs)) return;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }
}
