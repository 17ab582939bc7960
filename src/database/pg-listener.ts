import { BeforeApplicationShutdown, Injectable, Logger } from '@nestjs/common';
import { Client } from 'pg';
import { DatabaseLocator } from './database-locator';

type Handler = (payload: string) => void;

/**
 * One dedicated PostgreSQL connection that LISTENs on the channels modules subscribe to, so a
 * change committed by any replica (key rotation, revocation) reaches every replica at once.
 * On a lost connection it reconnects with backoff and tells subscribers to resync, because
 * notifications sent while it was away are gone.
 */
@Injectable()
export class PgListener implements BeforeApplicationShutdown {
  private readonly logger = new Logger('PgListener');
  private readonly handlers = new Map<string, Handler[]>();
  private readonly resyncHandlers: Array<() => void | Promise<void>> = [];
  private client?: Client;
  private connecting?: Promise<void>;
  private stopped = false;
  private retryTimer?: NodeJS.Timeout;
  /** Reconnection attempts that failed in a row, and when the last was logged. */
  private failures = 0;
  private lastFailureLog = 0;
  private connected = false;

  constructor(private readonly locator: DatabaseLocator) {}

  /** True while the LISTEN connection is up (readiness depends on it). */
  get isConnected(): boolean {
    return this.connected;
  }

  /** Subscribes to a channel; `onResync` runs after every (re)connection. */
  async subscribe(
    channel: string,
    handler: Handler,
    onResync?: () => void | Promise<void>,
  ): Promise<void> {
    const list = this.handlers.get(channel) ?? [];
    list.push(handler);
    this.handlers.set(channel, list);
    if (onResync) this.resyncHandlers.push(onResync);
    await this.ensureConnected();
    if (this.client && list.length === 1) await this.client.query(`LISTEN "${channel}"`);
  }

  private ensureConnected(): Promise<void> {
    if (this.client) return Promise.resolve();
    this.connecting ??= this.connect().finally(() => (this.connecting = undefined));
    return this.connecting;
  }

  private async connect(): Promise<void> {
    const client = new Client({
      connectionString: await this.locator.url(),
      connectionTimeoutMillis: 5000,
    });
    client.on('notification', (message) => {
      for (const handler of this.handlers.get(message.channel) ?? []) {
        try {
          handler(message.payload ?? '');
        } catch (error) {
          this.logger.error(`Notification handler for ${message.channel} failed: ${String(error)}`);
        }
      }
    });
    client.on('error', (error) => this.lost(client, error));
    client.on('end', () => this.lost(client, new Error('connection ended')));
    await client.connect();
    for (const channel of this.handlers.keys()) await client.query(`LISTEN "${channel}"`);
    this.client = client;
    this.connected = true;
  }

  private lost(client: Client, error: Error): void {
    if (this.client !== client) return;
    this.client = undefined;
    this.connected = false;
    if (this.stopped) return;
    this.logger.warn(`LISTEN connection lost (${error.message}); reconnecting`);
    client.end().catch(() => undefined);
    this.scheduleReconnect(250);
  }

  private scheduleReconnect(delay: number): void {
    if (this.stopped || this.retryTimer) return;
    this.retryTimer = setTimeout(async () => {
      this.retryTimer = undefined;
      try {
        await this.ensureConnected();
        this.failures = 0;
        this.logger.log('LISTEN connection restored; resyncing');
        for (const resync of this.resyncHandlers) await resync();
      } catch (error) {
        // Retried every second while PostgreSQL is down: the first failure and then one line a
        // minute say so, not one a second.
        const now = Date.now();
        if (this.failures++ === 0 || now - this.lastFailureLog >= 60_000) {
          this.lastFailureLog = now;
          this.logger.warn(
            `Reconnect failed (${(error as Error).message})` +
              (this.failures > 1
                ? `; ${this.failures} attempts so far, retrying every second`
                : ''),
          );
        }
        this.scheduleReconnect(Math.min(delay * 2, 1000));
      }
    }, delay);
    this.retryTimer.unref();
  }

  /** For tests and chaos drills: drops the connection as a network failure would. */
  async simulateDisconnect(): Promise<void> {
    const client = this.client;
    if (!client) return;
    this.lost(client, new Error('simulated disconnect'));
  }

  /** Before the database goes away (the embedded one stops in onApplicationShutdown). */
  async beforeApplicationShutdown(): Promise<void> {
    this.stopped = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    const client = this.client;
    this.client = undefined;
    this.connected = false;
    await client?.end().catch(() => undefined);
  }
}
