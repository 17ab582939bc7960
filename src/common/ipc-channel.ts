/**
 * A cluster worker's end of the IPC channel to the primary (`process` in a worker): what the
 * memory rate limiter and the token-limit counters ask the primary over (WORKERS > 1).
 */
export interface IpcChannel {
  connected: boolean;
  send?(message: unknown, callback?: (error: Error | null) => void): boolean;
  on(event: 'message', listener: (message: unknown) => void): unknown;
  on(event: 'disconnect', listener: () => void): unknown;
}

/**
 * A worker's calls waiting for the primary's answer, by id: each gets a promise, settled by the
 * answer that names its id, or rejected with `failure()` when its message cannot be sent or the
 * channel closes (the callers fail closed).
 */
export class PendingCalls<T> {
  private nextId = 1;
  private readonly waiting = new Map<number, { resolve(value: T): void; reject(e: Error): void }>();

  constructor(private readonly failure: () => Error) {}

  /** A new call: its id (to send) and the promise of its answer. */
  open(): { id: number; answer: Promise<T> } {
    const id = this.nextId++;
    const answer = new Promise<T>((resolve, reject) => this.waiting.set(id, { resolve, reject }));
    return { id, answer };
  }

  settle(id: number, value: T): void {
    const call = this.waiting.get(id);
    if (!call) return;
    this.waiting.delete(id);
    call.resolve(value);
  }

  fail(id: number): void {
    const call = this.waiting.get(id);
    if (!call) return;
    this.waiting.delete(id);
    call.reject(this.failure());
  }

  failAll(): void {
    for (const id of [...this.waiting.keys()]) this.fail(id);
  }
}
