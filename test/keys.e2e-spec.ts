import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { decode } from 'jsonwebtoken';
import { jwkThumbprint } from '../src/keys/key-crypto';
import { KeysService } from '../src/keys/keys.service';
import { bearer, CLIENTS, tokenFor } from './support/factories';
import { createDatabase, dropDatabase, startTestApp, TestApp } from './support/app';

async function query<T = Record<string, unknown>>(
  url: string,
  sql: string,
  params: unknown[] = [],
): Promise<T[]> {
  const db = new Client({ connectionString: url });
  await db.connect();
  try {
    return (await db.query(sql, params)).rows as T[];
  } finally {
    await db.end();
  }
}

const infer = (sut: TestApp, token: string) =>
  sut.http().post('/v1/infer').set(bearer(token)).send({ prompt: 'hi' });

/** Polls (bounded) until `check` holds: replicas converge through LISTEN/NOTIFY, not sleeps. */
async function eventually(check: () => Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('signing keys against a real PostgreSQL', () => {
  describe('rotation state machine', () => {
    let sut: TestApp;
    let keys: KeysService;

    beforeAll(async () => {
      sut = await startTestApp();
      keys = sut.app.get(KeysService);
    });

    afterAll(async () => {
      await sut.close();
    });

    it('keeps exactly one active key under concurrent soft and hard rotations', async () => {
      await Promise.all(
        ['soft', 'hard', 'soft', 'soft', 'hard', 'soft'].map((mode) =>
          keys.rotate(mode as 'soft' | 'hard'),
        ),
      );
      const [{ count }] = await query<{ count: number }>(
        sut.databaseUrl,
        `SELECT count(*)::int AS count FROM signing_keys WHERE status = 'active'`,
      );
      expect(count).toBe(1);
      const [active] = await query<{ kid: string }>(
        sut.databaseUrl,
        `SELECT kid FROM signing_keys WHERE status = 'active'`,
      );
      expect(keys.signingKey().kid).toBe(active.kid);
    });

    it('publishes the next key ahead of time and activates exactly that key on a soft rotation', async () => {
      const statuses = () =>
        query<{ kid: string; status: string }>(
          sut.databaseUrl,
          `SELECT kid, status FROM signing_keys WHERE status IN ('next', 'active')`,
        );
      const before = await statuses();
      const next = before.find((k) => k.status === 'next')?.kid;
      expect(next).toBeDefined();
      const jwks = await sut.http().get('/.well-known/jwks.json');
      expect(jwks.body.keys.map((k: { kid: string }) => k.kid)).toContain(next);
      // Published, verifies nothing yet, signs nothing.
      expect(keys.signingKey().kid).not.toBe(next);

      const rotated = await keys.rotate('soft');
      expect(rotated.kid).toBe(next);
      expect(keys.signingKey().kid).toBe(next);
      const after = await statuses();
      expect(after.filter((k) => k.status === 'next')).toHaveLength(1);
      expect(after.find((k) => k.status === 'next')?.kid).not.toBe(next);
    });

    it('replaces a retired next key at once', async () => {
      const [next] = await query<{ kid: string }>(
        sut.databaseUrl,
        `SELECT kid FROM signing_keys WHERE status = 'next'`,
      );
      await keys.retire(next.kid);
      const [replacement] = await query<{ kid: string }>(
        sut.databaseUrl,
        `SELECT kid FROM signing_keys WHERE status = 'next'`,
      );
      expect(replacement.kid).not.toBe(next.kid);
    });

    it('sets a retiring key’s retirement to the longest token lifetime after rotation', async () => {
      const old = keys.signingKey().kid;
      await keys.rotate('soft');
      const [row] = await query<{ status: string; seconds: number }>(
        sut.databaseUrl,
        `SELECT status, extract(epoch FROM retire_after - retiring_at)::int AS seconds FROM signing_keys WHERE kid = $1`,
        [old],
      );
      // PARENT_TOKEN_TTL (30d) and REFRESH_TOKEN_TTL (30d) are the longest lifetimes by default.
      expect(row).toEqual({ status: 'retiring', seconds: 30 * 86400 });
    });

    it('retires a retiring key automatically once its tokens have expired', async () => {
      const token = await tokenFor(sut.url, CLIENTS.operator);
      const old = keys.signingKey().kid;
      await keys.rotate('soft');
      expect((await infer(sut, token)).status).toBe(200);
      const result = await keys.maintain(new Date(Date.now() + 31 * 86400 * 1000));
      expect(result.retired).toContain(old);
      expect((await infer(sut, token)).status).toBe(401);
      const jwks = await sut.http().get('/.well-known/jwks.json');
      expect(jwks.body.keys.map((k: { kid: string }) => k.kid)).not.toContain(old);
    });

    it('soft-rotates automatically when the active key is older than KEY_ROTATION_INTERVAL', async () => {
      const old = keys.signingKey().kid;
      expect((await keys.maintain(new Date())).rotated).toBeUndefined();
      const result = await keys.maintain(new Date(Date.now() + 31 * 86400 * 1000));
      expect(result.rotated).toBeDefined();
      expect(keys.signingKey().kid).toBe(result.rotated);
      const [row] = await query<{ status: string }>(
        sut.databaseUrl,
        'SELECT status FROM signing_keys WHERE kid = $1',
        [old],
      );
      expect(row.status).toBe('retiring');
    });

    it('refuses to retire the active key and answers 404 for an unknown kid over HTTP', async () => {
      const admin = await tokenFor(sut.url, CLIENTS.admin);
      const active = keys.signingKey().kid;
      const conflict = await sut.http().post(`/admin/keys/${active}/retire`).set(bearer(admin));
      expect(conflict.status).toBe(409);
      const missing = await sut.http().post('/admin/keys/nope/retire').set(bearer(admin));
      expect(missing.status).toBe(404);
      const badMode = await sut
        .http()
        .post('/admin/keys/rotate')
        .set(bearer(admin))
        .send({ mode: 'sideways' });
      expect(badMode.status).toBe(400);
      expect(badMode.body.detail).toContain('mode');
      const listed = await sut.http().get('/admin/keys').set(bearer(admin));
      expect(listed.status).toBe(200);
      expect(listed.body.filter((k: { status: string }) => k.status === 'active')).toHaveLength(1);
      expect(JSON.stringify(listed.body)).not.toMatch(/PRIVATE|private/);
    });

    it('stores private keys encrypted, never in PEM', async () => {
      const rows = await query<{ private_key_encrypted: string }>(
        sut.databaseUrl,
        'SELECT private_key_encrypted FROM signing_keys',
      );
      for (const row of rows) {
        expect(row.private_key_encrypted).toMatch(/^v1\./);
        expect(row.private_key_encrypted).not.toContain('PRIVATE KEY');
      }
    });
  });

  it('keeps its key across a restart and refuses to start with the wrong KEY_ENCRYPTION_KEY', async () => {
    const first = await startTestApp();
    const kid = first.app.get(KeysService).signingKey().kid;
    const token = await tokenFor(first.url, CLIENTS.operator);
    await first.close({ keepDatabase: true });
    const second = await startTestApp({ database: first.database, dataDir: first.dataDir });
    try {
      expect(second.app.get(KeysService).signingKey().kid).toBe(kid);
      // The issuer is per-port in tests, so check the signature path through the key ring directly.
      expect(second.app.get(KeysService).verificationKey(kid)).toBeDefined();
      expect(decode(token, { complete: true })?.header.kid).toBe(kid);
    } finally {
      await second.close();
    }
    await expect(
      startTestApp({
        database: first.database,
        env: { KEY_ENCRYPTION_KEY: Buffer.alloc(32, 9).toString('base64') },
      }),
    ).rejects.toThrow(/Cannot decrypt signing key .*KEY_ENCRYPTION_KEY/);
    await dropDatabase(first.database);
  });

  it('spreads a rotation to another replica at once (LISTEN/NOTIFY)', async () => {
    const a = await startTestApp();
    const b = await startTestApp({ database: a.database, env: { JWT_ISSUER: a.url } });
    try {
      const oldToken = await tokenFor(a.url, CLIENTS.operator);
      expect((await infer(b, oldToken)).status).toBe(200);
      const admin = await tokenFor(a.url, CLIENTS.admin);
      const rotated = await a
        .http()
        .post('/secrets/refresh')
        .set(bearer(admin))
        .send({ mode: 'hard' });
      expect(rotated.status).toBe(200);
      await eventually(async () => (await infer(b, oldToken)).status === 401);
      const fresh = await tokenFor(a.url, CLIENTS.operator);
      expect((await infer(b, fresh)).status).toBe(200);
      expect(b.app.get(KeysService).signingKey().kid).toBe(rotated.body.kid);
    } finally {
      await b.close({ keepDatabase: true });
      await a.close();
    }
  });

  it('imports PRIVATE_KEY_PATH as the active key, idempotently, with the RFC 7638 thumbprint as kid', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tessera-pem-'));
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    writeFileSync(join(dir, 'private.pem'), privateKey.export({ type: 'pkcs8', format: 'pem' }));
    writeFileSync(join(dir, 'public.pem'), publicKey.export({ type: 'spki', format: 'pem' }));
    const env = {
      PRIVATE_KEY_PATH: join(dir, 'private.pem'),
      PUBLIC_KEY_PATH: join(dir, 'public.pem'),
    };
    const database = await createDatabase();
    const first = await startTestApp({ database, env });
    const kid = jwkThumbprint(publicKey);
    try {
      expect(first.app.get(KeysService).signingKey().kid).toBe(kid);
      const token = await tokenFor(first.url, CLIENTS.operator);
      expect(decode(token, { complete: true })?.header.kid).toBe(kid);
      expect((await infer(first, token)).status).toBe(200);
    } finally {
      await first.close();
    }
    const again = await startTestApp({ database, env });
    try {
      const rows = await query(again.databaseUrl, 'SELECT kid FROM signing_keys WHERE imported');
      expect(rows).toEqual([{ kid }]);
    } finally {
      await again.close();
      await dropDatabase(database);
    }
  });

  it('refuses an imported key whose public half does not match', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tessera-pem-'));
    writeFileSync(
      join(dir, 'private.pem'),
      generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({
        type: 'pkcs8',
        format: 'pem',
      }),
    );
    writeFileSync(
      join(dir, 'public.pem'),
      generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({
        type: 'spki',
        format: 'pem',
      }),
    );
    await expect(
      startTestApp({
        env: {
          PRIVATE_KEY_PATH: join(dir, 'private.pem'),
          PUBLIC_KEY_PATH: join(dir, 'public.pem'),
        },
      }),
    ).rejects.toThrow(/PUBLIC_KEY_PATH does not match/);
  });

  it.each(['ES256', 'PS256'])('signs and verifies with JWT_ALGORITHM=%s', async (algorithm) => {
    const sut = await startTestApp({ env: { JWT_ALGORITHM: algorithm } });
    try {
      const token = await tokenFor(sut.url, CLIENTS.operator);
      expect(decode(token, { complete: true })?.header.alg).toBe(algorithm);
      expect((await infer(sut, token)).status).toBe(200);
      const jwks = await sut.http().get('/jwks.json');
      expect(jwks.body.keys[0]).toMatchObject({
        alg: algorithm,
        kty: algorithm === 'ES256' ? 'EC' : 'RSA',
      });
    } finally {
      await sut.close();
    }
  });

  it('soft-rotates to a new algorithm when JWT_ALGORITHM changes between starts', async () => {
    const first = await startTestApp();
    const rsaKid = first.app.get(KeysService).signingKey().kid;
    await first.close({ keepDatabase: true });
    const second = await startTestApp({
      database: first.database,
      dataDir: first.dataDir,
      env: { JWT_ALGORITHM: 'ES256' },
    });
    try {
      const keys = second.app.get(KeysService);
      expect(keys.signingKey().algorithm).toBe('ES256');
      expect(keys.verificationKey(rsaKid)?.algorithm).toBe('RS256');
    } finally {
      await second.close();
      await dropDatabase(first.database);
    }
  });
});
