import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataSource } from 'typeorm';
import { ChainWalker, GENESIS_HASH } from '../src/audit/audit-chain';
import { AuditWriter, PACED_FROM, PreparedEvent } from '../src/audit/audit-writer';
import { ChainAppender } from '../src/audit/chain-appender';
import { MIGRATIONS } from '../src/database/migrations';
import { createDatabase, dropDatabase } from './support/app';
import { TcpProxy } from './support/tcp-proxy';

/**
 * Medium tier: the audit writer against a real PostgreSQL reached through a TCP proxy that the
 * test cuts, as an outage looks to a client. Nothing is lost: events wait, spill to files when
 * the buffer is full, and are replayed (one chain, intact) when PostgreSQL is back.
 */
describe('audit writer: batching, outage, spill and replay', () => {
  let database: string;
  let proxy: TcpProxy;
  let dataSource: DataSource;
  let spillDir: string;
  const counts = { written: 0, spilled: 0, dropped: 0 };
  const logs: string[] = [];
  const logger = {
    log: (m: string) => logs.push(m),
    warn: (m: string) => logs.push(m),
    error: (m: string) => logs.push(m),
  };
  const metrics = {
    written: (n: number) => (counts.written += n),
    spilled: (n: number) => (counts.spilled += n),
    dropped: (n: number) => (counts.dropped += n),
  };

  const event = (n: number): PreparedEvent => ({
    at: new Date().toISOString(),
    action: 'test.event',
    outcome: 'success',
    actor: `actor-${n}`,
    actorMethod: null,
    target: String(n),
    ip: '127.0.0.1',
    userAgent: 'jest',
    requestId: `req-${n}`,
    details: { n, nested: { z: 1, a: [1, 'two'] } },
  });

  const writer = (bufferMax: number, dir = spillDir, source = dataSource) =>
    new AuditWriter(
      new ChainAppender(source, 40),
      { bufferMax, spillDir: dir, batchMax: 40 },
      metrics,
      logger,
    );

  const until = async (condition: () => boolean | Promise<boolean>, what: string) => {
    const deadline = Date.now() + 20_000;
    while (!(await condition())) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };

  const stored = async () =>
    Number((await dataSource.query('SELECT count(*) AS n FROM audit_events'))[0].n);

  /** Walks the stored chain with the same rules as `tessera audit verify`. */
  const chainIntact = async () => {
    const rows = await dataSource.query(
      `SELECT e.id::text AS id, at, action, outcome, actor, actor_method AS "actorMethod", target,
              ip, user_agent AS "userAgent", request_id AS "requestId", details,
              prev_hash AS "prevHash", hash FROM audit_events e ORDER BY e.id`,
    );
    const walker = new ChainWalker({ nextId: 1n, prevHash: GENESIS_HASH });
    for (const row of rows) walker.check(row);
    const [head] = await dataSource.query('SELECT last_id::text, hash FROM audit_chain');
    walker.finish({ lastId: head.last_id, hash: head.hash });
    return walker.broken ?? true;
  };

  beforeAll(async () => {
    database = await createDatabase();
    const admin = new URL(process.env.TEST_ADMIN_DATABASE_URL as string);
    proxy = new TcpProxy(admin.hostname, Number(admin.port || 5432));
    const port = await proxy.start();
    const url = new URL(admin.toString());
    url.port = String(port);
    url.pathname = `/${database}`;
    dataSource = await new DataSource({
      type: 'postgres',
      url: url.toString(),
      migrations: MIGRATIONS,
      // Fail fast while the proxy is cut, like a dead network would after its timeout.
      extra: { connectionTimeoutMillis: 1000, max: 4 },
    }).initialize();
    await dataSource.runMigrations();
    spillDir = mkdtempSync(join(tmpdir(), 'tessera-spill-'));
  });

  afterAll(async () => {
    await proxy.restore().catch(() => undefined);
    await dataSource?.destroy();
    await proxy.cut();
    await dropDatabase(database);
    rmSync(spillDir, { recursive: true, force: true });
  });

  it('writes events in batches, off the caller, as one intact chain', async () => {
    const sut = writer(1000);
    let resolved = 0;
    for (let i = 0; i < 100; i++) sut.enqueue(event(i), () => (resolved += 1));
    expect(await stored()).toBe(0); // nothing written on the caller's turn
    await sut.flush();
    expect(resolved).toBe(100);
    expect(await stored()).toBe(100);
    expect(await chainIntact()).toBe(true);
  });

  it('paces its statements once batches grow, and holds back no event of a quiet trail', async () => {
    const appender = new ChainAppender(dataSource, 40);
    const statements: number[] = [];
    const counting = {
      append: (events: string[]) => {
        statements.push(events.length);
        return appender.append(events);
      },
      insertOnce: (id: string, events: string[]) => appender.insertOnce(id, events),
    };
    const sut = new AuditWriter(
      counting,
      { bufferMax: 1000, spillDir, batchMax: 40, intervalMs: 400 },
      metrics,
      logger,
    );
    const before = await stored();
    const storedAt = (n: number) =>
      new Promise<number>((resolve) => sut.enqueue(event(n), () => resolve(Date.now())));

    // Quiet: one event, then another as soon as the first is stored — neither waits.
    let start = Date.now();
    await storedAt(500);
    // Recorded by a caller the first write just resumed (they once waited for a next event).
    await storedAt(501);
    expect(Date.now() - start).toBeLessThan(300);
    expect(statements).toEqual([1, 1]);

    // Busy: a batch of PACED_FROM events; the five recorded right after it wait for the
    // interval since its statement, then go as one.
    start = Date.now();
    const burst = Array.from({ length: PACED_FROM }, (_, i) => storedAt(510 + i));
    await Promise.all(burst);
    const rest = Array.from({ length: 5 }, (_, i) => storedAt(530 + i));
    const times = await Promise.all(rest);
    expect(Math.min(...times) - start).toBeGreaterThanOrEqual(390);
    expect(statements).toEqual([1, 1, PACED_FROM, 5]);
    expect(await stored()).toBe(before + 2 + PACED_FROM + 5);

    // A flush does not wait for the interval.
    for (let i = 0; i < PACED_FROM; i++) sut.enqueue(event(540 + i));
    await sut.flush();
    sut.enqueue(event(560));
    const flushing = Date.now();
    await sut.flush();
    expect(Date.now() - flushing).toBeLessThan(300);
    expect(statements).toEqual([1, 1, PACED_FROM, 5, PACED_FROM, 1]);
    expect(await chainIntact()).toBe(true);
  });

  it('keeps events through an outage, spills the overflow, and replays it when PostgreSQL is back', async () => {
    const sut = writer(100);
    const before = await stored();
    await proxy.cut();
    for (let i = 0; i < 250; i++) sut.enqueue(event(1000 + i));
    await until(() => counts.spilled > 0, 'a spill');
    expect(readdirSync(spillDir).filter((f) => f.endsWith('.ndjson')).length).toBeGreaterThan(0);
    expect(sut.depth).toBeLessThanOrEqual(100);
    expect(counts.dropped).toBe(0);
    await until(() => logs.some((l) => l.includes('cannot be written')), 'the outage logged');
    await proxy.restore();
    await until(async () => sut.depth === 0 && (await stored()) === before + 250, 'the replay');
    sut.notePendingSpills();
    await until(() => readdirSync(spillDir).length === 0, 'spill files replayed and removed');
    expect(await stored()).toBe(before + 250);
    expect(await chainIntact()).toBe(true);
  });

  it('does not hold an awaited event for the whole outage: it is spilled (durable) at once', async () => {
    const before = await stored();
    const sut = writer(1000);
    await proxy.cut();
    for (let i = 0; i < 3; i++) sut.enqueue(event(3000 + i)); // nobody waits for these
    const started = Date.now();
    // An admin change's event: its answer waits until the event is durable.
    const durable = new Promise<void>((resolve) => sut.enqueue(event(3003), resolve));
    await durable;
    expect(Date.now() - started).toBeLessThan(5_000); // the failed attempt, then the spill
    expect(sut.depth).toBe(0); // all four, in order, in one file
    expect(logs.some((l) => l.startsWith('PostgreSQL unavailable: 4 audit events spilled'))).toBe(
      true,
    );
    await proxy.restore();
    sut.notePendingSpills();
    await until(async () => (await stored()) === before + 4, 'the replay');
    const targets = await dataSource.query(
      "SELECT target FROM audit_events WHERE target IN ('3000', '3001', '3002', '3003') ORDER BY id",
    );
    expect(targets.map((r: { target: string }) => r.target)).toEqual([
      '3000',
      '3001',
      '3002',
      '3003',
    ]);
    expect(await chainIntact()).toBe(true);
  });

  it('keeps events nobody waits for in memory during an outage: no spill, no drop, no false "resumed"', async () => {
    const before = await stored();
    const sut = writer(1000);
    await proxy.cut();
    const spilled = counts.spilled;
    const from = logs.length;
    for (let i = 0; i < 10; i++) sut.enqueue(event(3100 + i));
    await until(
      () => logs.slice(from).some((l) => l.startsWith('Audit events cannot be written')),
      'the refused write',
    );
    await new Promise((r) => setTimeout(r, 1500)); // a few retries, all refused
    expect(sut.depth).toBe(10);
    expect(counts.spilled).toBe(spilled);
    expect(logs.slice(from).filter((l) => /spilled|dropped|resumed/.test(l))).toEqual([]);
    await proxy.restore();
    await until(async () => (await stored()) === before + 10, 'the buffered events written');
    expect(logs.slice(from).filter((l) => l === 'Audit trail writes resumed')).toHaveLength(1);
    expect(await chainIntact()).toBe(true);
  });

  it('an awaited event that cannot be spilled either stays buffered: answered, never dropped', async () => {
    const before = await stored();
    const unwritable = join(spillDir, 'not-a-directory');
    writeFileSync(unwritable, ''); // a file where the spill directory should be: mkdir fails
    const sut = writer(1000, unwritable);
    await proxy.cut();
    const dropped = counts.dropped;
    sut.enqueue(event(3200)); // nobody waits for this one
    const started = Date.now();
    await new Promise<void>((resolve) => sut.enqueue(event(3201), resolve));
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(sut.depth).toBe(2);
    expect(counts.dropped).toBe(dropped);
    expect(logs.some((l) => /2 audit events could not be spilled .*kept in memory/.test(l))).toBe(
      true,
    );
    await proxy.restore();
    await until(async () => (await stored()) === before + 2, 'the kept events written');
    const targets = await dataSource.query(
      "SELECT target FROM audit_events WHERE target IN ('3200', '3201') ORDER BY id",
    );
    expect(targets.map((r: { target: string }) => r.target)).toEqual(['3200', '3201']);
    expect(await chainIntact()).toBe(true);
  });

  it('spills what is left at shutdown and the next start replays it', async () => {
    const before = await stored();
    const first = writer(1000);
    await proxy.cut();
    for (let i = 0; i < 7; i++) first.enqueue(event(5000 + i));
    await first.flush(1500);
    expect(first.depth).toBe(0);
    expect(readdirSync(spillDir).filter((f) => f.endsWith('.ndjson'))).toHaveLength(1);
    await proxy.restore();
    const next = writer(1000); // a new process
    next.notePendingSpills();
    await until(async () => (await stored()) === before + 7, 'the replay at start');
    expect(await chainIntact()).toBe(true);
  });

  // A process that appended a spill file's events and was killed before deleting the file: the
  // next start appended them again, as new events (the chain verified, every event twice).
  it('replays a spill file once, even when it was left behind after its replay', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tessera-spill-once-'));
    const ours = async () =>
      Number(
        (
          await dataSource.query(
            "SELECT count(*)::int AS n FROM audit_events WHERE target LIKE '60__' AND action = 'test.event'",
          )
        )[0].n,
      );
    const first = writer(1000, dir);
    await proxy.cut();
    for (let i = 0; i < 5; i++) first.enqueue(event(6000 + i));
    await first.flush(1500);
    const [file] = readdirSync(dir);
    const copy = readFileSync(join(dir, file));
    await proxy.restore();
    const next = writer(1000, dir);
    next.notePendingSpills();
    await until(async () => (await ours()) === 5 && readdirSync(dir).length === 0, 'the replay');
    // The file is back, as if the process had died between the commit and the unlink.
    writeFileSync(join(dir, file), copy, { mode: 0o600 });
    const third = writer(1000, dir);
    third.notePendingSpills();
    await until(() => readdirSync(dir).length === 0, 'the file looked at again');
    expect(await ours()).toBe(5);
    expect(logs.some((l) => l.includes(`of ${file} were appended before; file removed`))).toBe(
      true,
    );
    const [replay] = await dataSource.query(
      'SELECT events FROM audit_spill_replays WHERE id = $1',
      [file],
    );
    expect(replay).toEqual({ events: 5 });
    expect(await chainIntact()).toBe(true);
    rmSync(dir, { recursive: true, force: true });
  });

  it('replays a spill file written by an earlier version (one event object a line)', async () => {
    const before = await stored();
    const legacy = [event(7000), event(7001)].map((e) => JSON.stringify(e)).join('\n') + '\n';
    writeFileSync(join(spillDir, `0-1-legacy.ndjson`), legacy, { mode: 0o600 });
    const sut = writer(1000);
    sut.notePendingSpills();
    await until(async () => (await stored()) === before + 2, 'the legacy replay');
    const rows = await dataSource.query(
      "SELECT target, details FROM audit_events WHERE target IN ('7000', '7001') ORDER BY id",
    );
    expect(rows).toEqual([
      { target: '7000', details: { n: 7000, nested: { z: 1, a: [1, 'two'] } } },
      { target: '7001', details: { n: 7001, nested: { z: 1, a: [1, 'two'] } } },
    ]);
    expect(await chainIntact()).toBe(true);
  });

  it('drops only what can be neither written nor spilled, and counts and logs it', async () => {
    const notADirectory = join(spillDir, 'file');
    writeFileSync(notADirectory, '');
    const sut = writer(100, join(notADirectory, 'spill'));
    await proxy.cut();
    const dropped = counts.dropped;
    for (let i = 0; i < 150; i++) sut.enqueue(event(9000 + i));
    await until(() => counts.dropped > dropped, 'a counted drop');
    expect(logs.some((l) => /audit events dropped/.test(l))).toBe(true);
    await proxy.restore();
    await sut.flush();
    rmSync(notADirectory);
    expect(await chainIntact()).toBe(true);
  });

  it('two writers appending at once (two replicas) form one chain, each in its own order', async () => {
    const before = await stored();
    const direct = new URL(process.env.TEST_ADMIN_DATABASE_URL as string);
    direct.pathname = `/${database}`;
    const other = await new DataSource({ type: 'postgres', url: direct.toString() }).initialize();
    try {
      const a = writer(1000);
      const b = writer(1000, spillDir, other); // another replica, its own connections
      // Several turns each, so the two race for the head many times.
      for (let turn = 0; turn < 10; turn++) {
        for (let i = 0; i < 30; i++) {
          a.enqueue(event(20_000 + turn * 30 + i));
          b.enqueue(event(30_000 + turn * 30 + i));
        }
        await new Promise((r) => setImmediate(r));
      }
      await Promise.all([a.flush(), b.flush()]);
      expect(await stored()).toBe(before + 600);
      expect(await chainIntact()).toBe(true);
      for (const from of [20_000, 30_000]) {
        const targets = (
          await dataSource.query(
            'SELECT target FROM audit_events WHERE target::int >= $1 AND target::int < $2 ORDER BY id',
            [from, from + 300],
          )
        ).map((r: { target: string }) => Number(r.target));
        expect(targets).toEqual(Array.from({ length: 300 }, (_, i) => from + i));
      }
    } finally {
      await other.destroy();
    }
  });
});

describe('audit chain migration', () => {
  it('numbers and chains the events recorded before it, in their order', async () => {
    const database = await createDatabase();
    const url = new URL(process.env.TEST_ADMIN_DATABASE_URL as string);
    url.pathname = `/${database}`;
    const open = (migrations: typeof MIGRATIONS) =>
      new DataSource({ type: 'postgres', url: url.toString(), migrations }).initialize();
    try {
      // Everything before the audit-chain migration (later migrations may follow it).
      const chain = MIGRATIONS.findIndex((m) => m.name === 'AuditChain1764000000500');
      const before = await open(MIGRATIONS.slice(0, chain));
      await before.runMigrations();
      for (let i = 0; i < 25; i++)
        await before.query(
          'INSERT INTO audit_events (action, outcome, actor, details) VALUES ($1, $2, $3, $4)',
          [`legacy.${i}`, 'success', `a${i}`, JSON.stringify({ i, b: { y: 2, x: 1 } })],
        );
      await before.destroy();
      const after = await open(MIGRATIONS);
      await after.runMigrations();
      const rows = await after.query(
        `SELECT e.id::text AS id, at, action, outcome, actor, actor_method AS "actorMethod", target,
                ip, user_agent AS "userAgent", request_id AS "requestId", details,
                prev_hash AS "prevHash", hash FROM audit_events e ORDER BY e.id`,
      );
      expect(rows.map((r: { action: string }) => r.action)).toEqual(
        Array.from({ length: 25 }, (_, i) => `legacy.${i}`),
      );
      const walker = new ChainWalker({ nextId: 1n, prevHash: GENESIS_HASH });
      for (const row of rows) walker.check(row);
      const [head] = await after.query('SELECT last_id::text, hash FROM audit_chain');
      walker.finish({ lastId: head.last_id, hash: head.hash });
      expect(walker.broken).toBeUndefined();
      expect(walker.checked).toBe(25);
      await after.destroy();
    } finally {
      await dropDatabase(database);
    }
  });
});
