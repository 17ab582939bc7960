import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { freePort } from '../../src/database/embedded-postgres';
import { createDatabase, dropDatabase } from '../support/app';

/**
 * A run that uses every kind of secret (client secrets by Basic, post and JSON; a person's
 * password; access, parent, child and refresh tokens; API keys; the key-encryption key and the
 * pepper), with failures mixed in. Afterwards neither the server's log (at debug level) nor a
 * pg_dump of its database holds any of them; the log holds no password hash or digest either
 * (the database stores those by design).
 */
const ROOT = join(__dirname, '..', '..');

interface Reply {
  status: number;
  body: string;
}

function call(
  url: string,
  method: string,
  path: string,
  headers: Record<string, string> = {},
  body?: string,
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const target = new URL(path, url);
    const req = httpRequest(
      {
        host: target.hostname,
        port: target.port,
        path: target.pathname + target.search,
        method,
        headers: {
          ...(body === undefined ? {} : { 'content-length': String(Buffer.byteLength(body)) }),
          ...headers,
        },
      },
      (res) => {
        let text = '';
        res.on('data', (chunk) => (text += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      },
    );
    req.on('error', reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}

const json = (value: unknown) => ({
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify(value),
});
const form = (value: Record<string, string>) => ({
  headers: { 'content-type': 'application/x-www-form-urlencoded' },
  body: new URLSearchParams(value).toString(),
});
const basic = (id: string, secret: string) => ({
  authorization: `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`,
});
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

describe('security: no secret in the logs or in a database dump', () => {
  // Inside the checkout, so the compiled files resolve the project's node_modules.
  const out = mkdtempSync(join(ROOT, 'node_modules', '.tessera-scan-build-'));
  const dataDir = mkdtempSync(join(tmpdir(), 'tessera-scan-'));
  let database: string;
  let databaseUrl: string;
  let server: ChildProcess | undefined;
  let log = '';

  beforeAll(async () => {
    const build = spawnSync(
      process.execPath,
      [
        join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'),
        '-p',
        'tsconfig.build.json',
        '--outDir',
        out,
        '--noCheck',
      ],
      { cwd: ROOT, encoding: 'utf8' },
    );
    if (build.status !== 0) throw new Error(`tsc failed: ${build.stdout}${build.stderr}`);
    database = await createDatabase();
    const url = new URL(process.env.TEST_ADMIN_DATABASE_URL as string);
    url.pathname = `/${database}`;
    databaseUrl = url.toString();
  }, 120_000);

  afterAll(async () => {
    server?.kill('SIGKILL');
    if (database) await dropDatabase(database);
    rmSync(out, { recursive: true, force: true });
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('finds none of them after a run that used them all', async () => {
    const secrets: Record<string, string> = {
      kek: Buffer.from('scan-kek-0123456789abcdef0123456').toString('base64'),
      pepper: 'scan-pepper-0123456789abcdef-0123456789',
      adminSecret: 'scan-admin-secret-0123456789-abcdefghij',
      serviceSecret: 'scan-service-secret-0123456789-abcdefgh',
      password: 'scan correct horse battery staple',
      wrongPassword: 'scan a wrong password attempt',
    };
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    server = spawn(process.execPath, [join(out, 'src', 'main.js')], {
      cwd: ROOT,
      env: {
        PATH: process.env.PATH ?? '',
        NODE_ENV: 'test',
        LOG_LEVEL: 'debug',
        PORT: String(port),
        DATABASE_URL: databaseUrl,
        DATA_DIR: dataDir,
        JWT_ISSUER: url,
        KEY_ENCRYPTION_KEY: secrets.kek,
        CLIENT_SECRET_PEPPER: secrets.pepper,
        AUTH_CLIENTS_JSON: JSON.stringify({
          'scan-admin': { secret: secrets.adminSecret, roles: ['admin'] },
          'scan-service': { secret: secrets.serviceSecret, roles: ['operator'] },
        }),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    server.stdout?.on('data', (d) => (log += d));
    server.stderr?.on('data', (d) => (log += d));
    for (let i = 0; i < 600; i++) {
      const ready = await call(url, 'GET', '/health/ready').catch(() => ({ status: 0, body: '' }));
      if (ready.status === 200) break;
      await new Promise((r) => setTimeout(r, 150));
    }
    const tokens: string[] = [];
    const send = async (
      method: string,
      path: string,
      headers: Record<string, string>,
      payload?: { headers: Record<string, string>; body: string },
    ) => {
      const reply = await call(
        url,
        method,
        path,
        { ...headers, ...(payload?.headers ?? {}) },
        payload?.body,
      );
      expect(reply.status).toBeLessThan(500);
      return reply;
    };
    const take = (reply: Reply, ...fields: string[]) => {
      const parsed = JSON.parse(reply.body);
      for (const field of fields) if (typeof parsed[field] === 'string') tokens.push(parsed[field]);
      return parsed;
    };

    // Client secrets three ways, and wrong ones.
    const admin = take(
      await send(
        'POST',
        '/oauth/token',
        basic('scan-admin', secrets.adminSecret),
        form({ grant_type: 'client_credentials' }),
      ),
      'access_token',
    ).access_token;
    take(
      await send(
        'POST',
        '/oauth/token',
        {},
        form({
          grant_type: 'client_credentials',
          client_id: 'scan-service',
          client_secret: secrets.serviceSecret,
        }),
      ),
      'access_token',
    );
    const service = take(
      await send(
        'POST',
        '/token',
        {},
        json({ client_id: 'scan-service', client_secret: secrets.serviceSecret }),
      ),
      'access_token',
    ).access_token;
    await send(
      'POST',
      '/oauth/token',
      basic('scan-service', `${secrets.serviceSecret}x`),
      form({ grant_type: 'client_credentials' }),
    );
    await send(
      'POST',
      '/token',
      {},
      json({ client_id: 'scan-service\u0000', client_secret: secrets.serviceSecret }),
    );
    // A client created and re-keyed over the API: its secrets are answered once.
    const created = JSON.parse(
      (
        await send(
          'POST',
          '/admin/clients',
          bearer(admin),
          json({
            id: 'scan-created',
            roles: ['operator'],
            grantTypes: ['client_credentials', 'password', 'refresh_token'],
          }),
        )
      ).body,
    );
    secrets.createdSecret = created.client_secret;
    const reset = await send('POST', '/admin/clients/scan-created/secret', bearer(admin));
    if (reset.status < 300) secrets.resetSecret = JSON.parse(reset.body).client_secret;
    // A person: password login, password grant, refresh, wrong password.
    await send(
      'POST',
      '/admin/users',
      bearer(admin),
      json({ email: 'scan@example.com', password: secrets.password, name: 'Scan' }),
    );
    const login = take(
      await send(
        'POST',
        '/auth/login',
        {},
        json({ email: 'scan@example.com', password: secrets.password }),
      ),
      'access_token',
      'refresh_token',
    );
    await send(
      'POST',
      '/auth/login',
      {},
      json({ email: 'scan@example.com', password: secrets.wrongPassword }),
    );
    take(
      await send(
        'POST',
        '/oauth/token',
        {},
        form({ grant_type: 'refresh_token', refresh_token: login.refresh_token }),
      ),
      'access_token',
      'refresh_token',
    );
    await send(
      'POST',
      '/oauth/token',
      {},
      form({ grant_type: 'refresh_token', refresh_token: login.refresh_token }),
    ); // replayed
    // API keys: created, used in the header and as a bearer, and a wrong one.
    const apiKey = JSON.parse(
      (
        await send(
          'POST',
          '/admin/api-keys',
          bearer(admin),
          json({ name: 'scan', roles: ['operator'] }),
        )
      ).body,
    );
    secrets.apiKey = apiKey.key;
    await send('POST', '/v1/infer', { 'x-api-key': apiKey.key }, json({ prompt: 'hi' }));
    await send('POST', '/v1/infer', bearer(apiKey.key), json({ prompt: 'hi' }));
    await send('POST', '/v1/infer', { 'x-api-key': `${apiKey.key}x` }, json({ prompt: 'hi' }));
    // Parent and child tokens; revocation and introspection.
    take(
      await send('POST', '/token-pairs', bearer(admin), json({ user_id: 'scan-agent' })),
      'parent_token',
      'child_token',
    );
    await send('POST', '/v1/infer', bearer(service), json({ prompt: 'hi' }));
    await send(
      'POST',
      '/oauth/introspect',
      basic('scan-admin', secrets.adminSecret),
      form({ token: service }),
    );
    await send(
      'POST',
      '/oauth/revoke',
      basic('scan-service', secrets.serviceSecret),
      form({ token: service }),
    );
    await send('POST', '/v1/infer', bearer(service), json({ prompt: 'revoked' }));
    await send(
      'POST',
      '/v1/infer',
      { authorization: `Bearer ${service} ${service}` },
      json({ prompt: 'x' }),
    );

    // Stop (flushes), then dump.
    server.kill('SIGTERM');
    await new Promise((r) => server?.once('exit', r));
    const dump = await databaseDump(databaseUrl);
    expect(dump.stdout).toContain('CREATE TABLE');

    // What the database keeps by design must still never be logged.
    const db = new Client({ connectionString: databaseUrl });
    await db.connect();
    const stored: string[] = [];
    try {
      for (const { secret_digest } of (await db.query('SELECT secret_digest FROM clients')).rows)
        stored.push(secret_digest);
      for (const { password_hash } of (await db.query('SELECT password_hash FROM users')).rows)
        stored.push(password_hash);
    } finally {
      await db.end();
    }
    expect(stored.length).toBeGreaterThan(3);

    const plain = [...Object.values(secrets), ...tokens];
    const signatures = tokens.filter((t) => t.split('.').length === 3).map((t) => t.split('.')[2]);
    expect(tokens.length).toBeGreaterThan(6);
    expect(secrets.apiKey).toBeDefined();
    const found = (haystack: string, needles: string[]) =>
      needles
        .filter((needle) => needle && haystack.includes(needle))
        .map((needle) => `${needle.slice(0, 12)}…`);
    expect(log.length).toBeGreaterThan(1000);
    expect(
      found(log, [
        ...plain,
        ...signatures,
        ...stored,
        ...stored.map((s) => s.split(':').pop() ?? s),
      ]),
    ).toEqual([]);
    expect(found(dump.stdout, [...plain, ...signatures])).toEqual([]);
  }, 180_000);
});

/**
 * `pg_dump` of the database. Where the machine's pg_dump is older than the server (the embedded
 * PostgreSQL 18 beside Debian's pg_dump 15), every table's rows as JSON instead: the same data.
 */
async function databaseDump(databaseUrl: string): Promise<{ stdout: string }> {
  const dump = spawnSync('pg_dump', ['--no-owner', databaseUrl], {
    encoding: 'utf8',
    maxBuffer: 256 * 1024 * 1024,
  });
  if (dump.status === 0) return { stdout: dump.stdout };
  expect(dump.stderr ?? '').toMatch(/version mismatch|ENOENT/);
  const db = new Client({ connectionString: databaseUrl });
  await db.connect();
  try {
    const tables = (
      await db.query<{ name: string }>(
        "SELECT table_name AS name FROM information_schema.tables WHERE table_schema = 'public'",
      )
    ).rows;
    let out = '';
    for (const { name } of tables) {
      out += `CREATE TABLE ${name}\n`;
      const rows = await db.query<{ row: string }>(
        `SELECT row_to_json(t)::text AS row FROM "${name}" t`,
      );
      for (const { row } of rows.rows) out += row + '\n';
    }
    return { stdout: out };
  } finally {
    await db.end();
  }
}
