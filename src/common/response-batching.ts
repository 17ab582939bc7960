import type { FastifyInstance } from 'fastify';

/**
 * Answers written at the end of the event-loop turn they were produced in, together — flush
 * consolidation, as Netty's `FlushConsolidationHandler` and nginx's event loop do it.
 *
 * Under load one turn of the loop reads many requests (one per ready connection) and produces
 * their answers one after another. Writing each answer at once costs one wake-up of the peer per
 * answer: the client (or proxy) is woken by the first bytes, handles them, sleeps again, and is
 * woken again by the next answer — on a virtual machine every such cross-CPU wake-up is an
 * inter-processor interrupt the writer pays for inside `writev`. Holding the answers until the
 * loop has read what was ready (`setImmediate`, which runs right after the I/O phase) writes them
 * back to back, so the peer wakes once for the batch. A lone request waits for nothing: the
 * check phase follows its own I/O phase at once.
 *
 * Measured (README "Benchmark"): the guarded route's throughput +20% on the 2-core machine, the
 * server's time in `writev` halved. Hijacked replies (event streams) write on their own.
 */
export class ResponseBatching {
  /** The answers of this turn, in the order they were produced. */
  private waiting: Array<() => void> = [];
  private readonly release = () => {
    const batch = this.waiting;
    this.waiting = [];
    for (const send of batch) send();
  };

  install(fastify: FastifyInstance): void {
    // The promise form: an error in what follows (Fastify's write) reaches its error handling.
    fastify.addHook('onSend', (_request, _reply, payload) => this.hold(payload));
  }

  /** The onSend step: resolves (to the payload, unchanged) with the other answers of this turn. */
  hold<T>(payload: T): Promise<T> {
    if (this.waiting.length === 0) setImmediate(this.release);
    return new Promise<T>((resolve) => this.waiting.push(() => resolve(payload)));
  }
}
