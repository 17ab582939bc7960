import type { FastifyInstance } from 'fastify';
import type { Server } from 'node:http';
import { Server as NetServer } from 'node:net';

/**
 * Graceful HTTP shutdown without resetting keep-alive connections.
 *
 * Node's `http.Server.close()` destroys idle keep-alive sockets at once, so a client that has
 * just written its next request on one gets ECONNRESET: a failed request the server never saw.
 * Draining first stops accepting new connections only, and for a grace period answers every
 * request (in flight, or arriving on an open connection) with `Connection: close`, so each
 * client closes its socket cleanly after a full answer. Then Fastify closes what is left.
 */
export class HttpDrain {
  private draining = false;

  /** Adds the `Connection: close` header while draining (one boolean test per response). */
  install(fastify: FastifyInstance): void {
    fastify.addHook('onSend', (_request, reply, payload, done) => {
      if (this.draining) reply.header('connection', 'close');
      done(null, payload);
    });
    fastify.addHook('preClose', (done) => {
      this.draining = true;
      done();
    });
  }

  /** Stops accepting; resolves when every connection has closed or after `graceMs`. */
  async drain(server: Server, graceMs: number): Promise<void> {
    this.draining = true;
    if (!server.listening) return;
    // net.Server's close: no new connections, but (unlike http.Server's) open ones stay.
    NetServer.prototype.close.call(server);
    const deadline = Date.now() + graceMs;
    while (Date.now() < deadline) {
      const open = await new Promise<number>((resolve) =>
        server.getConnections((error, count) => resolve(error ? 0 : count)),
      );
      if (open === 0) return;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }
}
