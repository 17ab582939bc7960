import { execSync, spawn } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { freePort } from '../src/database/embedded-postgres';
import { startServerProcess } from './support/process';

function postgresRunningOn(dataDir: string): boolean {
  return execSync('ps -eo args')
    .toString()
    .split('\n')
    .some((line) => line.includes(`-D ${join(dataDir, 'pg')}`));
}

/** A start that is expected to fail: its exit code and everything it wrote (stdout and stderr). */
async function failedStart(dataDir: string): Promise<{ code: unknown; output: string }> {
  const child = spawn(process.execPath, ['-r', 'ts-node/register/transpile-only', 'src/main.ts'], {
    cwd: join(__dirname, '..'),
    env: {
      PATH: process.env.PATH ?? '',
      NODE_ENV: 'test',
      PORT: String(await freePort()),
      DATA_DIR: dataDir,
      JWT_ISSUER: 'http://tessera.test',
    },
  });
  let output = ''; // start-up errors are JSON lines on stdout (any plain one on stderr)
  child.stdout.on('data', (d) => (output += d));
  child.stderr.on('data', (d) => (output += d));
  const code = await new Promise((r) => child.once('exit', r));
  return { code, output };
}

/** `npm start` with DATABASE_URL unset: a real embedded PostgreSQL under DATA_DIR. */
describe('embedded PostgreSQL (DATABASE_URL unset)', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'tessera-embedded-'));

  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  it('starts, keeps its data across restarts, survives a SIGKILL and stops cleanly', async () => {
    const env = { DATA_DIR: dataDir, JWT_ISSUER: 'http://tessera.test' };
    const first = await startServerProcess(await freePort(), env);
    const kid = (await request(first.url).get('/jwks.json')).body.keys[0].kid;
    // stdout is a pipe here, as under a container or a service manager: the bootstrap admin's
    // secret goes to a 0600 file, never into the log, and it works.
    const secretFile = join(dataDir, 'bootstrap-admin.secret');
    // (Log lines are written asynchronously, within 250 ms.)
    const deadline = Date.now() + 5000;
    while (!first.output().includes(secretFile) && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 50));
    expect(first.output()).toContain(secretFile);
    const secret = readFileSync(secretFile, 'utf8').trim();
    expect(statSync(secretFile).mode & 0o777).toBe(0o600);
    expect(first.output()).not.toContain(secret);
    const token = await request(first.url)
      .post('/oauth/token')
      .type('form')
      .send({ grant_type: 'client_credentials', client_id: 'admin', client_secret: secret });
    expect(token.status).toBe(200);
    await first.stop();
    expect(postgresRunningOn(dataDir)).toBe(false);

    const second = await startServerProcess(await freePort(), env);
    expect((await request(second.url).get('/jwks.json')).body.keys[0].kid).toBe(kid);
    // The bootstrap admin is created once, on the empty database only.
    expect(second.output()).not.toContain('bootstrap admin');
    second.process.kill('SIGKILL');
    await new Promise((r) => second.process.once('exit', r));

    const third = await startServerProcess(await freePort(), env);
    expect((await request(third.url).get('/jwks.json')).body.keys[0].kid).toBe(kid);
    await third.stop();
    expect(postgresRunningOn(dataDir)).toBe(false);
  }, 300_000);

  // As root (CI, containers), the embedded PostgreSQL runs as the postgres user.
  (process.getuid?.() === 0 ? it : it.skip)(
    'as root, names a directory the postgres user cannot enter (a clone under /root), in one line',
    async () => {
      const closed = mkdtempSync(join(tmpdir(), 'tessera-closed-')); // mode 0700, like /root
      try {
        const { code, output } = await failedStart(join(closed, 'data'));
        expect(code).toBe(1);
        expect(output).toContain(`user, which may not enter ${closed} (mode 700)`);
        expect(output).not.toMatch(/\n\s+at /); // no stack trace
        expect(postgresRunningOn(join(closed, 'data'))).toBe(false);
      } finally {
        rmSync(closed, { recursive: true, force: true });
      }
    },
    60_000,
  );

  it('saves what requests buffered when Ctrl-C signals the whole process group', async () => {
    // A terminal's Ctrl-C sends SIGINT to every process of the foreground group. PostgreSQL,
    // had it been in that group, would have shut down at once (SIGINT is its fast shutdown),
    // before the server saved the usage counts its requests had buffered.
    const env = { DATA_DIR: dataDir, JWT_ISSUER: 'http://tessera.test' };
    const secret = readFileSync(join(dataDir, 'bootstrap-admin.secret'), 'utf8').trim();
    const tokenOf = async (url: string) =>
      (
        await request(url)
          .post('/oauth/token')
          .type('form')
          .send({ grant_type: 'client_credentials', client_id: 'admin', client_secret: secret })
      ).body.access_token as string;
    const usage = async (url: string) =>
      (
        await request(url)
          .get('/admin/usage?client_id=admin')
          .set('Authorization', `Bearer ${await tokenOf(url)}`)
      ).body.totals.requests as number;

    const server = await startServerProcess(await freePort(), env, { detached: true });
    const before = await usage(server.url);
    const token = await tokenOf(server.url);
    for (let i = 0; i < 3; i++) {
      const answer = await request(server.url)
        .post('/v1/chat/completions')
        .set('Authorization', `Bearer ${token}`)
        .send({ model: 'tessera-echo', messages: [{ role: 'user', content: 'a b c' }] });
      expect(answer.status).toBe(200);
    }
    const exited = new Promise((r) => server.process.once('exit', r));
    process.kill(-(server.process.pid as number), 'SIGINT');
    await exited;
    expect(server.output()).not.toContain('not saved');
    expect(postgresRunningOn(dataDir)).toBe(false);

    const again = await startServerProcess(await freePort(), env);
    expect(await usage(again.url)).toBe(before + 3);
    await again.stop();
  }, 300_000);

  // A second server on the same DATA_DIR shares the first one's PostgreSQL. That was said only at
  // debug level, and a cluster primary then logged "Embedded PostgreSQL stopped" for a
  // PostgreSQL it had left running (correctly) for the first server.
  it.each(['1', '2'])(
    'a second server on the same DATA_DIR (WORKERS=%s) says whose PostgreSQL it uses, and leaves it running',
    async (workers) => {
      const env = { DATA_DIR: dataDir, JWT_ISSUER: 'http://tessera.test' };
      const first = await startServerProcess(await freePort(), env);
      try {
        const second = await startServerProcess(await freePort(), {
          ...env,
          WORKERS: workers,
          LOG_LEVEL: 'info',
        });
        await second.stop();
        const lines = second
          .output()
          .split('\n')
          .filter((line) => line.startsWith('{'))
          .map((line) => JSON.parse(line) as { level: number; pid: number; msg: string });
        expect(lines).toContainEqual(
          expect.objectContaining({
            level: 30,
            pid: second.process.pid,
            msg: `Process ${first.process.pid} runs the embedded PostgreSQL in ${join(dataDir, 'pg')}: using it (shared with that process, never stopped by this one)`,
          }),
        );
        expect(lines.map((line) => line.msg)).not.toContain('Embedded PostgreSQL stopped');
        // It said how it ended (the primary's or the server's last lines are there).
        expect(lines.map((line) => line.msg)).toContainEqual(
          expect.stringMatching(/^Shut down in \d+ ms$/),
        );
        expect(postgresRunningOn(dataDir)).toBe(true);
        expect((await request(first.url).get('/health/ready')).status).toBe(200);
      } finally {
        await first.stop();
      }
      // The first server, which started it, stops it.
      expect(postgresRunningOn(dataDir)).toBe(false);
    },
    180_000,
  );

  // WORKERS=auto on a machine with many cores: each worker's pool, on PostgreSQL's default of
  // 100 connections, ran out under load ("too many clients"). The embedded one is sized for them.
  it('starts its PostgreSQL with room for every worker’s pool', async () => {
    const own = mkdtempSync(join(tmpdir(), 'tessera-embedded-pool-'));
    try {
      const server = await startServerProcess(await freePort(), {
        DATA_DIR: own,
        JWT_ISSUER: 'http://tessera.test',
        WORKERS: '2',
        DATABASE_POOL_SIZE: '60',
      });
      try {
        const postmaster = execSync('ps -eo args')
          .toString()
          .split('\n')
          .find((line) => line.includes(`-D ${join(own, 'pg')}`));
        expect(postmaster).toContain('max_connections=134'); // 2 × (60 + 2) + 10
        expect(server.output()).not.toContain('may open');
      } finally {
        await server.stop();
      }
    } finally {
      rmSync(own, { recursive: true, force: true });
    }
  }, 180_000);

  it('names a data directory written by another PostgreSQL major version, in one line', async () => {
    // A copy of the (stopped) data directory of the tests above, marked as another version.
    const copy = mkdtempSync(join(tmpdir(), 'tessera-oldpg-'));
    try {
      cpSync(join(dataDir, 'pg'), join(copy, 'pg'), { recursive: true });
      rmSync(join(copy, 'pg', 'postmaster.pid'), { force: true });
      writeFileSync(join(copy, 'pg', 'PG_VERSION'), '17\n');
      const { code, output } = await failedStart(copy);
      expect(code).toBe(1);
      expect(output).toContain(
        'its data was written by PostgreSQL 17, and this Tessera embeds PostgreSQL 18. Move DATA_DIR aside',
      );
      expect(output).not.toContain('undefined');
    } finally {
      rmSync(copy, { recursive: true, force: true });
    }
  }, 60_000);
});
