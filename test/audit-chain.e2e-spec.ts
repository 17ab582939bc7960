import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Client } from 'pg';
import { freePort } from '../src/database/embedded-postgres';
import { AuditService } from '../src/audit/audit.service';
import { bearer, CLIENTS, tokenFor } from './support/factories';
import { startTestApp, TestApp } from './support/app';

const run = promisify(execFile);
const CLI = join(__dirname, '..', 'bin', 'tessera.js');

interface Verification {
  intact: boolean;
  checked: number;
  first_broken: { id: string; reason: string } | null;
}

/**
 * The hash chain catches what an attacker with write access to the table would do to hide
 * something (edit, delete, reorder, cut off the newest), through the API and the CLI; a
 * retention purge re-anchors the chain and stays intact; the export streams NDJSON.
 */
describe('audit trail: hash chain, verify, export, retention', () => {
  let sut: TestApp;
  let admin: string;
  let db: Client;

  const verify = async (): Promise<Verification> => {
    const response = await sut.http().get('/admin/audit/verify').set(bearer(admin));
    expect(response.status).toBe(200);
    return response.body as Verification;
  };

  /** Each test tampers with a fresh copy of the table and restores it afterwards. */
  const tampered = async (sql: string, check: (v: Verification) => void | Promise<void>) => {
    await sut.app.get(AuditService).flush();
    await db.query('CREATE TEMP TABLE saved AS SELECT * FROM audit_events');
    try {
      await db.query(sql);
      await check(await verify());
    } finally {
      await db.query('BEGIN');
      await db.query('DELETE FROM audit_events');
      await db.query('INSERT INTO audit_events SELECT * FROM saved');
      await db.query('DROP TABLE saved');
      await db.query('COMMIT');
    }
  };

  beforeAll(async () => {
    sut = await startTestApp();
    admin = await tokenFor(sut.url, CLIENTS.admin);
    db = new Client({ connectionString: sut.databaseUrl });
    await db.connect();
    // Some events of several kinds: issuance, refusals, admin changes.
    for (const id of ['chain-1', 'chain-2', 'chain-3'])
      await sut.http().post('/admin/clients').set(bearer(admin)).send({ id });
    await sut.http().post('/v1/infer').send({ prompt: 'x' }); // 401
    await tokenFor(sut.url, CLIENTS.operator);
    await sut.app.get(AuditService).flush();
  });

  afterAll(async () => {
    await db.end();
    await sut.close();
  });

  it('reports an untouched trail as intact, with the number of events checked', async () => {
    const result = await verify();
    expect(result).toEqual({ intact: true, checked: expect.any(Number), first_broken: null });
    expect(result.checked).toBeGreaterThanOrEqual(6);
  });

  it('catches an edited event', async () => {
    const [{ id }] = (
      await db.query("SELECT id::text FROM audit_events WHERE action = 'client.create' LIMIT 1")
    ).rows;
    await tampered(`UPDATE audit_events SET actor = 'someone-else' WHERE id = ${id}`, (v) => {
      expect(v.intact).toBe(false);
      expect(v.first_broken).toEqual({ id, reason: expect.stringContaining('edited') });
    });
    await tampered(
      `UPDATE audit_events SET details = details || '{"note":"added"}' WHERE id = ${id}`,
      (v) => expect(v.first_broken?.id).toBe(id),
    );
  });

  it('catches a time moved by less than a millisecond (the hash covers the time to the millisecond)', async () => {
    await tampered(
      "UPDATE audit_events SET at = at + interval '400 microseconds' WHERE id = 3",
      (v) => {
        expect(v.intact).toBe(false);
        expect(v.first_broken?.id).toBe('3');
        expect(v.first_broken?.reason).toContain('below the millisecond');
      },
    );
  });

  it('catches a deleted event', async () => {
    await tampered('DELETE FROM audit_events WHERE id = 3', (v) => {
      expect(v.intact).toBe(false);
      expect(v.first_broken).toEqual({ id: '4', reason: expect.stringContaining('missing') });
    });
  });

  it('catches reordered events (ids swapped, or contents swapped with their hashes)', async () => {
    await tampered(
      'UPDATE audit_events SET id = -2 WHERE id = 2; UPDATE audit_events SET id = 2 WHERE id = 3; UPDATE audit_events SET id = 3 WHERE id = -2',
      (v) => {
        expect(v.intact).toBe(false);
        expect(v.first_broken?.id).toBe('2');
      },
    );
    await tampered(
      `UPDATE audit_events a SET action = b.action, actor = b.actor, target = b.target,
         details = b.details, at = b.at, hash = b.hash, prev_hash = b.prev_hash
       FROM (SELECT * FROM saved) b WHERE (a.id, b.id) IN ((2, 3), (3, 2))`,
      (v) => {
        expect(v.intact).toBe(false);
        expect(v.first_broken?.id).toBe('2');
        expect(v.first_broken?.reason).toContain('prev_hash');
      },
    );
  });

  it('catches the newest events cut off the end', async () => {
    const [{ max }] = (await db.query('SELECT max(id)::text AS max FROM audit_events')).rows;
    await tampered(`DELETE FROM audit_events WHERE id = ${max}`, (v) => {
      expect(v.intact).toBe(false);
      expect(v.first_broken?.reason).toContain('newest events deleted');
    });
  });

  it('tessera audit verify prints intact (exit 0) or the first broken link (exit 1)', async () => {
    const env = { ...process.env, DATABASE_URL: sut.databaseUrl, DATA_DIR: sut.dataDir };
    await sut.app.get(AuditService).flush();
    const ok = await run(process.execPath, [CLI, 'audit', 'verify'], { env });
    expect(ok.stdout).toMatch(/^intact \(\d+ events checked\)/);
    await tampered("UPDATE audit_events SET target = 'hidden' WHERE id = 4", async () => {
      const failed = await run(process.execPath, [CLI, 'audit', 'verify'], { env }).catch(
        (e: { code: number; stdout: string }) => e,
      );
      expect((failed as { code: number }).code).toBe(1);
      expect((failed as { stdout: string }).stdout).toMatch(/^broken at event 4: .*edited/);
    });
    // PostgreSQL out of reach: the check could not run, which is not a broken chain.
    const port = await freePort();
    const unreachable = await run(process.execPath, [CLI, 'audit', 'verify'], {
      env: { ...env, DATABASE_URL: `postgres://postgres@127.0.0.1:${port}/tessera` },
    }).catch((e: { code: number; stdout: string; stderr: string }) => e);
    expect(unreachable).toMatchObject({ code: 3, stdout: '' });
    expect((unreachable as { stderr: string }).stderr.trim().split('\n').pop()).toBe(
      `cannot verify: Cannot reach PostgreSQL at 127.0.0.1:${port} (ECONNREFUSED): check DATABASE_URL and that the server is running`,
    );
    // A database that does not exist: the same (it exited 1, "broken", after a stack trace).
    const missing = new URL(sut.databaseUrl);
    missing.pathname = '/tessera_no_such_database';
    const absent = await run(process.execPath, [CLI, 'audit', 'verify'], {
      env: { ...env, DATABASE_URL: missing.toString() },
    }).catch((e: { code: number; stdout: string; stderr: string }) => e);
    expect(absent).toMatchObject({ code: 3, stdout: '' });
    const stderr = (absent as { stderr: string }).stderr;
    expect(stderr).not.toMatch(/\n\s+at /);
    expect(stderr.trim().split('\n').pop()).toBe(
      'cannot verify: The database in DATABASE_URL does not exist (database "tessera_no_such_database" does not exist)',
    );
  }, 60_000);

  it('a retention purge deletes a prefix, records the anchor, and the chain stays intact', async () => {
    const audit = sut.app.get(AuditService);
    await audit.flush();
    const [{ count: before }] = (await db.query('SELECT count(*)::int AS count FROM audit_events'))
      .rows;
    // Everything recorded so far is "old" 91 days from now (AUDIT_RETENTION 90d).
    const result = await audit.purge(new Date(Date.now() + 91 * 86400_000));
    expect(result.purged).toBe(before);
    const anchors = (
      await db.query('SELECT through_id::text, hash, purged::int FROM audit_anchors')
    ).rows;
    expect(anchors).toEqual([
      { through_id: result.anchor?.through_id, hash: expect.any(String), purged: before },
    ]);
    await audit.flush(); // the audit.purge event itself
    const after = await verify();
    expect(after).toMatchObject({ intact: true, first_broken: null });
    const [first] = (
      await db.query('SELECT id::text, action, prev_hash FROM audit_events ORDER BY id LIMIT 1')
    ).rows;
    expect(BigInt(first.id)).toBe(BigInt(result.anchor!.through_id) + 1n);
    expect(first.prev_hash).toBe(anchors[0].hash);
    // The purge's own event is committed with the anchor, first after it.
    expect(first.action).toBe('audit.purge');
    // Removing the first remaining event is still caught after the anchor.
    await tampered(`DELETE FROM audit_events WHERE id = ${first.id}`, (v) =>
      expect(v.intact).toBe(false),
    );
  });

  it('catches a forged anchor that cuts recent events out (no audit.purge event attests it)', async () => {
    // Some events after the purge above, then an anchor written by hand over the first three
    // and those three deleted: the remaining chain links up, only the anchor lies.
    for (let i = 0; i < 4; i++) await tokenFor(sut.url, CLIENTS.operator);
    await sut.app.get(AuditService).flush();
    const rows = (
      await db.query(
        "SELECT id::text, hash FROM audit_events WHERE action = 'token.issue' ORDER BY id DESC LIMIT 4",
      )
    ).rows.reverse();
    const cut = rows[2]; // the third of the four newest: everything up to it disappears
    await db.query(
      `INSERT INTO audit_anchors (through_id, hash, purged, cutoff) VALUES ($1, $2, 3, now())`,
      [cut.id, cut.hash],
    );
    try {
      await tampered(`DELETE FROM audit_events WHERE id <= ${cut.id}`, (v) =>
        expect(v).toMatchObject({
          intact: false,
          first_broken: {
            id: cut.id,
            reason: 'retention anchor without its audit.purge event in the chain (forged?)',
          },
        }),
      );
    } finally {
      await db.query('DELETE FROM audit_anchors WHERE through_id = $1', [cut.id]);
    }
    expect(await verify()).toMatchObject({ intact: true });
  });

  it('exports matching events as NDJSON, oldest first, with their hashes', async () => {
    for (const id of ['export-1', 'export-2'])
      await sut.http().post('/admin/clients').set(bearer(admin)).send({ id });
    await sut.app.get(AuditService).flush();
    const response = await sut
      .http()
      .get('/admin/audit/export')
      .query({ action: 'client.*' })
      .set(bearer(admin))
      .buffer(true)
      .parse((res, callback) => {
        let text = '';
        res.on('data', (chunk: Buffer) => (text += chunk.toString()));
        res.on('end', () => callback(null, text));
      });
    expect(response.status).toBe(200);
    expect(response.headers['content-type']).toMatch(/^application\/x-ndjson/);
    const lines = (response.body as string)
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines.map((l) => l.target)).toEqual(['export-1', 'export-2']);
    for (const line of lines) {
      expect(line).toMatchObject({
        action: 'client.create',
        hash: expect.stringMatching(/^[0-9a-f]{64}$/),
      });
      expect(line.requestId).toEqual(expect.any(String));
    }
    const bad = await sut
      .http()
      .get('/admin/audit/export')
      .query({ since: 'soon' })
      .set(bearer(admin));
    expect(bad.status).toBe(400);
    expect(bad.body.detail).toContain('since');
    const operator = await tokenFor(sut.url, CLIENTS.operator);
    expect((await sut.http().get('/admin/audit/export').set(bearer(operator))).status).toBe(403);
    expect((await sut.http().get('/admin/audit/verify').set(bearer(operator))).status).toBe(403);
  });

  it('tessera audit export writes the same NDJSON', async () => {
    await sut.app.get(AuditService).flush();
    const env = { ...process.env, DATABASE_URL: sut.databaseUrl, DATA_DIR: sut.dataDir };
    const { stdout } = await run(
      process.execPath,
      [CLI, 'audit', 'export', '--action', 'client.create'],
      {
        env,
      },
    );
    const targets = stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l).target);
    expect(targets).toEqual(['export-1', 'export-2']);
  });

  // Last: it purges this database's trail.
  it('enforces retention soon after a start, not only an hour later', async () => {
    await sut.app.get(AuditService).flush();
    await new Promise((r) => setTimeout(r, 1100)); // every event so far is older than 1 s
    const anchors = async () =>
      (await db.query('SELECT purged::int FROM audit_anchors ORDER BY id')).rows as Array<{
        purged: number;
      }>;
    const before = (await anchors()).length;
    const replica = await startTestApp({ database: sut.database, env: { AUDIT_RETENTION: '1s' } });
    try {
      const deadline = Date.now() + 30_000;
      let after = await anchors();
      while (after.length === before && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 500));
        after = await anchors();
      }
      expect(after).toHaveLength(before + 1);
      expect(after[before].purged).toBeGreaterThan(0);
      const verified = await replica.app.get(AuditService).verify();
      expect(verified.intact).toBe(true);
    } finally {
      await replica.close();
    }
  }, 60_000);

  it('tessera audit purge runs the retention purge now, and says when there is nothing to purge', async () => {
    await sut.app.get(AuditService).flush();
    await new Promise((r) => setTimeout(r, 1100));
    const env = { ...process.env, DATABASE_URL: sut.databaseUrl, DATA_DIR: sut.dataDir };
    const purged = await run(process.execPath, [CLI, 'audit', 'purge'], {
      env: { ...env, AUDIT_RETENTION: '1s' },
    });
    expect(purged.stdout).toMatch(/^purged [1-9]\d* events; the chain is anchored at event \d+\n$/);
    const nothing = await run(process.execPath, [CLI, 'audit', 'purge'], { env });
    expect(nothing.stdout).toBe('nothing to purge: no event is older than AUDIT_RETENTION\n');
    const verified = await run(process.execPath, [CLI, 'audit', 'verify'], { env });
    expect(verified.stdout).toMatch(/^intact/);
    await expect(
      run(process.execPath, [CLI, 'audit', '--actor', 'x', 'purge'], { env }),
    ).rejects.toMatchObject({ code: 2 });
  }, 60_000);
});
