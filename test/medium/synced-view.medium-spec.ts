import { DataSource } from 'typeorm';
import { SyncedViews } from '../../src/database/synced-view';
import { startServices, Services } from './services';

/** A promise with its resolver, to hold a load at a chosen point. */
function gate(): { promise: Promise<void>; open: () => void } {
  let open = () => undefined as void;
  const promise = new Promise<void>((resolve) => (open = resolve));
  return { promise, open };
}

const until = async (condition: () => boolean, ms = 5000) => {
  const end = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
};

describe('SyncedView (services against PostgreSQL)', () => {
  let sut: Services;
  let db: DataSource;

  beforeAll(async () => {
    sut = await startServices();
    db = sut.context.get(DataSource);
    await db.query('CREATE TABLE probe_items (value text PRIMARY KEY)');
  });

  afterAll(async () => {
    await sut?.close();
  });

  /** Commits a row and its NOTIFY together, as every writer in Tessera does. */
  const commit = (channel: string, value: string) =>
    db.transaction(async (manager) => {
      await manager.query('INSERT INTO probe_items (value) VALUES ($1)', [value]);
      await manager.query('SELECT pg_notify($1, $2)', [channel, value]);
    });

  const readAll = async () =>
    ((await db.query('SELECT value FROM probe_items')) as Array<{ value: string }>).map(
      (r) => r.value,
    );

  it('does not miss a change committed after its load read the table (reload views)', async () => {
    const held = gate();
    const read = gate();
    let loads = 0;
    const view = sut.context.get(SyncedViews).create({
      name: 'probe-reload',
      channel: 'probe_reload',
      load: async () => {
        const rows = await readAll();
        if (++loads === 1) {
          read.open();
          await held.promise; // the change below commits while this load's snapshot is stale
        }
        return new Set(rows);
      },
    });
    const starting = view.start();
    await read.promise;
    await commit('probe_reload', 'committed-while-loading');
    await new Promise((resolve) => setTimeout(resolve, 200)); // the NOTIFY arrives meanwhile
    held.open();
    await starting;
    await until(() => view.inSync);
    expect(view.current.has('committed-while-loading')).toBe(true);
    expect(loads).toBeGreaterThanOrEqual(2);
  });

  it('replays into the new view what it heard while loading (incremental views)', async () => {
    const held = gate();
    const read = gate();
    let loads = 0;
    const view = sut.context.get(SyncedViews).create({
      name: 'probe-apply',
      channel: 'probe_apply',
      load: async () => {
        const rows = await readAll();
        if (++loads === 1) {
          read.open();
          await held.promise;
        }
        return new Set(rows);
      },
      apply: (set, payload) => (set.add(payload), true),
    });
    const starting = view.start();
    await read.promise;
    await commit('probe_apply', 'heard-while-loading');
    await new Promise((resolve) => setTimeout(resolve, 200));
    held.open();
    await starting;
    expect(view.current.has('heard-while-loading')).toBe(true);
    expect(loads).toBe(1); // applied, not reloaded

    await commit('probe_apply', 'heard-later');
    await until(() => view.current.has('heard-later'));
  });

  it('is not in sync while its LISTEN connection is down, and reloads after it returns', async () => {
    const view = sut.context.get(SyncedViews).create({
      name: 'probe-resync',
      channel: 'probe_resync',
      load: async () => new Set(await readAll()),
    });
    await view.start();
    const { PgListener } = await import('../../src/database/pg-listener');
    const listener = sut.context.get(PgListener);
    await listener.simulateDisconnect();
    expect(view.inSync).toBe(false);
    expect(sut.context.get(SyncedViews).outOfSync()).toContain('probe-resync');
    // Committed while nobody listens: only the reload after reconnecting can bring it in.
    await db.query("INSERT INTO probe_items (value) VALUES ('while-disconnected')");
    await until(() => view.inSync && view.current.has('while-disconnected'));
  });
});
