import { execSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
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
});
