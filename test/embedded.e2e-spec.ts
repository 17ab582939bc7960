import { execSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
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
    expect(first.output()).toContain('client_secret:');
    await first.stop();
    expect(postgresRunningOn(dataDir)).toBe(false);

    const second = await startServerProcess(await freePort(), env);
    expect((await request(second.url).get('/jwks.json')).body.keys[0].kid).toBe(kid);
    // The bootstrap admin is created once, on the empty database only.
    expect(second.output()).not.toContain('client_secret:');
    second.process.kill('SIGKILL');
    await new Promise((r) => second.process.once('exit', r));

    const third = await startServerProcess(await freePort(), env);
    expect((await request(third.url).get('/jwks.json')).body.keys[0].kid).toBe(kid);
    await third.stop();
    expect(postgresRunningOn(dataDir)).toBe(false);
  }, 300_000);
});
