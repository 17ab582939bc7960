import http from 'node:http';

/**
 * Polls `probe` until it returns true, at most `attempts` times `intervalMs` apart; returns how
 * many milliseconds that took. Bounded, so a propagation bug fails the test instead of hanging.
 */
export async function eventually(
  probe: () => Promise<boolean>,
  { attempts = 100, intervalMs = 10 } = {},
): Promise<number> {
  const started = Date.now();
  for (let attempt = 0; attempt < attempts; attempt++) {
    if (await probe()) return Date.now() - started;
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
  throw new Error(`condition not met after ${attempts} attempts`);
}

export interface SseEvent {
  event: string;
  data: unknown;
}

/** A Server-Sent Events connection over plain HTTP, collecting events as they arrive. */
export class SseClient {
  readonly events: SseEvent[] = [];
  status?: number;
  contentType?: string;
  private request?: http.ClientRequest;
  private waiters: Array<() => void> = [];
  ended = false;

  static open(url: string, headers: Record<string, string>): Promise<SseClient> {
    const client = new SseClient();
    return new Promise((resolve, reject) => {
      client.request = http.get(url, { headers }, (response) => {
        client.status = response.statusCode;
        client.contentType = String(response.headers['content-type'] ?? '');
        response.setEncoding('utf8');
        let buffer = '';
        response.on('data', (chunk: string) => {
          buffer += chunk;
          let end: number;
          while ((end = buffer.indexOf('\n\n')) >= 0) {
            const block = buffer.slice(0, end);
            buffer = buffer.slice(end + 2);
            const lines = block.split('\n');
            const event = lines.find((l) => l.startsWith('event: '))?.slice(7);
            const data = lines.find((l) => l.startsWith('data: '))?.slice(6);
            if (event && data !== undefined) {
              client.events.push({ event, data: JSON.parse(data) });
              client.wake();
            }
          }
        });
        response.on('end', () => {
          client.ended = true;
          client.wake();
        });
        resolve(client);
      });
      client.request.on('error', reject);
    });
  }

  /** Waits (bounded) for an event matching `predicate`. */
  async next(predicate: (e: SseEvent) => boolean, timeoutMs = 10_000): Promise<SseEvent> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.events.find(predicate);
      if (found) return found;
      if (this.ended) throw new Error('stream ended before the event arrived');
      const left = deadline - Date.now();
      if (left <= 0) throw new Error('event did not arrive in time');
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  close(): void {
    this.request?.destroy();
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }
}
