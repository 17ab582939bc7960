import { Injectable, Logger } from '@nestjs/common';
import { PgListener } from './pg-listener';

/** What a module tells {@link SyncedViews} about its view of a table. */
export interface ViewSource<T> {
  /** A name for logs and readiness (`keys`, `roles`, `revocations`). */
  name: string;
  /** The LISTEN channel on which writers NOTIFY (in the writing transaction) a change. */
  channel: string;
  /** Reads the whole view from the database into a new value. */
  load(): Promise<T>;
  /**
   * Applies one notification to a view in place, for views kept up to date entry by entry (the
   * revocation index). Returns false when the payload cannot be applied: the view is reloaded.
   * Without `apply`, every notification reloads the whole view.
   */
  apply?(view: T, payload: string): boolean;
  /** Called with each newly loaded view, after it became current. */
  loaded?(view: T): void;
}

/**
 * An in-memory view of a table, kept in sync on every replica by LISTEN/NOTIFY, so the request
 * path reads memory and never the database. The order makes it race-free:
 * 1. LISTEN first, then load: a change committed while loading is heard, never missed;
 * 2. what is heard while loading is applied again to the freshly loaded view (or, for a
 *    reload-on-change view, causes one more load), so the load's snapshot can't hide it;
 * 3. after the LISTEN connection was lost (notifications sent meanwhile are gone), reload.
 */
export class SyncedView<T> {
  private view?: T;
  /** Set by start(); a view its owner never starts (keys in HS256 mode) is not waited for. */
  started = false;
  private loading?: Promise<void>;
  private loadAgain = false;
  /** Payloads heard during a load, replayed into its result. */
  private heardWhileLoading?: string[];
  private readonly logger: Logger;

  constructor(
    private readonly source: ViewSource<T>,
    private readonly listener: PgListener,
  ) {
    this.logger = new Logger(`SyncedView:${source.name}`);
  }

  get name(): string {
    return this.source.name;
  }

  /** Subscribes, then loads. Resolves once the first view is current. */
  async start(): Promise<void> {
    this.started = true;
    await this.listener.subscribe(
      this.source.channel,
      (payload) => this.heard(payload),
      () => this.reload(),
    );
    await this.reload();
  }

  /** The current view. Throws before the first load (a start-order bug, not a runtime state). */
  get current(): T {
    if (this.view === undefined) throw new Error(`View ${this.source.name} read before it loaded`);
    return this.view;
  }

  /** Loaded, not reloading, and listening: everything committed is in the view. */
  get inSync(): boolean {
    return this.view !== undefined && this.loading === undefined && this.listener.isConnected;
  }

  /** Loads the view again (one load at a time; asked for during a load, it runs once more). */
  reload(): Promise<void> {
    if (this.loading) {
      this.loadAgain = true;
      return this.loading;
    }
    this.loading = (async () => {
      try {
        do {
          this.loadAgain = false;
          this.heardWhileLoading = [];
          const next = await this.source.load();
          for (const payload of this.heardWhileLoading)
            if (!this.source.apply?.(next, payload)) this.loadAgain = true;
          this.view = next;
          this.source.loaded?.(next);
        } while (this.loadAgain);
      } finally {
        this.heardWhileLoading = undefined;
        this.loading = undefined;
      }
    })();
    return this.loading;
  }

  private heard(payload: string): void {
    if (this.heardWhileLoading) {
      // Applied to the old view now (it keeps serving) and to the new one when it arrives.
      if (this.view !== undefined) this.source.apply?.(this.view, payload);
      this.heardWhileLoading.push(payload);
      if (!this.source.apply) this.loadAgain = true;
      return;
    }
    if (this.view !== undefined && this.source.apply?.(this.view, payload)) return;
    this.reload().catch((error: Error) =>
      this.logger.error(`Reload of ${this.source.name} failed: ${error.message}`),
    );
  }
}

/**
 * Creates the synced views and answers for all of them at readiness: a replica is ready only
 * while every view is in sync.
 */
@Injectable()
export class SyncedViews {
  private readonly views: SyncedView<unknown>[] = [];

  constructor(private readonly listener: PgListener) {}

  /** A new view of `source`; call `start()` on it in the owner's onModuleInit. */
  create<T>(source: ViewSource<T>): SyncedView<T> {
    const view = new SyncedView(source, this.listener);
    this.views.push(view as SyncedView<unknown>);
    return view;
  }

  /** Names of the views not in sync right now (empty: ready). */
  outOfSync(): string[] {
    return this.views.filter((view) => view.started && !view.inSync).map((view) => view.name);
  }
}
