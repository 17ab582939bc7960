import { ChildProcess, execSync, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../src/database/embedded-postgres';
import { createDatabase, dropDatabase, startTestApp } from '../support/app';
import { clientsJson, CLIENTS } from '../support/factories';
import { startTestRedis } from '../support/redis';

/**
 * Fault tests with real processes: the embedded PostgreSQL SIGKILLed and SIGSTOPped under load,
 * SIGKILL during rotations, Redis stopped, SIGTERM under load, the CLI beside a running server.
 * Bounded: short loads, second-scale timeouts.
 */
const ROOT = join(__dirname, '..', '..');
// Inside the checkout, so the compiled files resolve the project's node_modules.
const OUT = mkdtempSync(join(ROOT, 'node_modules', '.tessera-faults-build-'));
const KEK = Buffer.alloc(32, 9).toString('base64');

interface Reply {
  status: number;
  body: string;
  ms: number;
  headers: Record<string, string | string[] | undefined>;
  error?: string;
}

function call(
  url: string,
  method: string,
  path: string,
  options: { body?: string; type?: string; token?: string; agent?: Agent; basic?: string } = {},
): Promise<Reply> {
  const started = Date.now();
  return new Promise((resolve) => {
    const target = new URL(path, url);
    const headers: Record<string, string> = {};
    if (options.body !== undefined) {
      headers['content-type'] = options.type ?? 'application/json';
      headers['content-length'] = String(Buffer.byteLength(options.body));
    }
    if (options.token) headers.authorization = `Bearer ${options.token}`;
    if (options.basic)
      headers.authorization = `Basic ${Buffer.from(options.basic).toString('base64')}`;
    const req = httpRequest(
      {
        host: target.hostname,
        port: target.port,
        path: target.pathname + target.search,
        method,
        headers,
        agent: options.agent ?? false,
        timeout: 15_000,
      },
      (res) => {
        let body = '';
        res.on('data', (chunk) => (body += chunk));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            body,
            ms: Date.now() - started,
            headers: res.headers,
          }),
        );
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (error: NodeJS.ErrnoException) =>
      resolve({
        status: 0,
        body: '',
        ms: Date.now() - started,
        headers: {},
        error: error.code ?? error.message,
      }),
    );
    if (options.body !== undefined) req.write(options.body);
    req.end();
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Server {
  url: string;
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

/** The compiled server (`node dist/src/main.js`, as `npm start`), ready when /health/ready is 200. */
async function startServer(env: Record<string, string>): Promise<Server> {
  const port = await freePort();
  const child = spawn(process.execPath, [join(OUT, 'src', 'main.js')], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH ?? '',
      NODE_ENV: 'test',
      LOG_LEVEL: 'warn',
      PORT: String(port),
      KEY_ENCRYPTION_KEY: KEK,
      JWT_ISSUER: `http://127.0.0.1:${port}`,
      AUTH_CLIENTS_JSON: clientsJson(),
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (d) => (output += d));
  child.stderr?.on('data', (d) => (output += d));
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => resolve(code)),
  );
  const url = `http://127.0.0.1:${port}`;
  for (const deadline = Date.now() + 90_000; ;) {
    if (child.exitCode !== null) throw new Error(`server exited: ${output}`);
    if ((await call(url, 'GET', '/health/ready')).status === 200) break;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`server not ready: ${output}`);
    }
    await sleep(150);
  }
  return { url, child, output: () => output, exited };
}

async function stopServer(server: Server): Promise<number | null> {
  if (server.child.exitCode === null) server.child.kill('SIGTERM');
  return server.exited;
}

async function token(url: string, client: { id: string; secret: string }): Promise<string> {
  const reply = await call(url, 'POST', '/oauth/token', {
    body: 'grant_type=client_credentials',
    type: 'application/x-www-form-urlencoded',
    basic: `${client.id}:${client.secret}`,
  });
  if (reply.status !== 200) throw new Error(`token: ${reply.status} ${reply.body}`);
  return JSON.parse(reply.body).access_token;
}

const jtiOf = (jwt: string): string =>
  JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString()).jti;

/** All processes of the PostgreSQL whose postmaster.pid is in `dataDir/pg`. */
function postgresPids(dataDir: string): number[] {
  const postmaster = Number(
    readFileSync(join(dataDir, 'pg', 'postmaster.pid'), 'utf8').split('\n')[0],
  );
  return [postmaster, ...childrenOf(postmaster)];
}

function childrenOf(pid: number): number[] {
  return execSync(`pgrep -P ${pid} || true`)
    .toString()
    .trim()
    .split('\n')
    .filter(Boolean)
    .map(Number);
}

/**
 * SIGSTOPs the embedded PostgreSQL: the postmaster first (it forks no backend once stopped), then
 * its children, listed again until none is left running — a backend forked for a new pool
 * connection between a listing and the signals kept serving writes through the "pause".
 */
function pausePostgres(dataDir: string): number[] {
  const [postmaster] = postgresPids(dataDir);
  process.kill(postmaster, 'SIGSTOP');
  const stopped = new Set([postmaster]);
  for (let round = 0; round < 3; round++)
    for (const pid of childrenOf(postmaster))
      if (!stopped.has(pid)) {
        process.kill(pid, 'SIGSTOP');
        stopped.add(pid);
      }
  return [...stopped];
}

/** The shipped policy with limits out of the way (the loads here are not about rate limits). */
function highLimitPolicy(dir: string): string {
  const file = join(dir, 'auth-high-limits.yaml');
  writeFileSync(
    file,
    readFileSync(join(ROOT, 'config', 'auth.yaml'), 'utf8').replace(
      /(admin|operator|viewer|default): "\d+\/minute"/g,
      '$1: "1000000/minute"',
    ),
  );
  return file;
}

beforeAll(() => {
  // Compile once (transpile only: ts-jest and the lint type-check); every process runs it.
  const build = spawnSync(
    process.execPath,
    [
      join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'),
      '-p',
      'tsconfig.build.json',
      '--outDir',
      OUT,
      '--noCheck',
    ],
    { cwd: ROOT, encoding: 'utf8' },
  );
  if (build.status !== 0) throw new Error(`tsc failed: ${build.stdout}${build.stderr}`);
}, 120_000);

afterAll(() => rmSync(OUT, { recursive: true, force: true }));

describe('faults: the embedded PostgreSQL', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'tessera-faults-pg-'));
  let server: Server;

  beforeAll(async () => {
    server = await startServer({ DATA_DIR: dataDir, AUTH_POLICY_FILE: highLimitPolicy(dataDir) });
  }, 120_000);

  afterAll(async () => {
    if (server) await stopServer(server);
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('the CLI run beside the server uses its PostgreSQL and never stops it', async () => {
    const run = (...args: string[]) =>
      spawnSync(process.execPath, [join(OUT, 'src', 'cli', 'main.js'), ...args], {
        cwd: ROOT,
        encoding: 'utf8',
        env: {
          PATH: process.env.PATH ?? '',
          NODE_ENV: 'test',
          LOG_LEVEL: 'silent',
          DATA_DIR: dataDir,
          KEY_ENCRYPTION_KEY: KEK,
        },
      });
    const listed = run('keys', 'list');
    expect(listed.status).toBe(0);
    expect(listed.stdout).toContain('active');
    // Strict arguments, for every command: an unknown positional is exit 2 with the usage line.
    const strict = run('keys', 'list', 'extra');
    expect(strict.status).toBe(2);
    expect(strict.stderr).toContain('Usage: tessera keys list');
    expect(run('no-such-command').status).toBe(2);
    expect((await call(server.url, 'GET', '/health/ready')).status).toBe(200);
    expect(
      (
        await call(server.url, 'POST', '/oauth/token', {
          body: 'grant_type=client_credentials',
          type: 'application/x-www-form-urlencoded',
          basic: `${CLIENTS.operator.id}:${CLIENTS.operator.secret}`,
        })
      ).status,
    ).toBe(200);
  });

  for (const fault of ['SIGKILL', 'SIGSTOP'] as const) {
    it(`${fault}: verification keeps answering, writes answer 503 within ~1 s, service is back within 5 s, no acknowledged revocation is lost`, async () => {
      const access = await token(server.url, CLIENTS.operator);
      const admin = await token(server.url, CLIENTS.admin);
      const acknowledged: string[] = [];
      const verification: number[] = [];
      const writes: Reply[] = [];
      let stop = false;
      const verifier = async () => {
        while (!stop) {
          verification.push(
            (await call(server.url, 'GET', '/v1/models', { token: access })).status,
          );
          await sleep(20);
        }
      };
      const writer = async () => {
        while (!stop) {
          // A revocation is a database write: acknowledged (200) means stored.
          const victim = await call(server.url, 'POST', '/oauth/token', {
            body: 'grant_type=client_credentials',
            type: 'application/x-www-form-urlencoded',
            basic: `${CLIENTS.operator.id}:${CLIENTS.operator.secret}`,
          });
          writes.push(victim);
          if (victim.status === 200) {
            const jwt = JSON.parse(victim.body).access_token as string;
            const revoked = await call(server.url, 'POST', '/revoke', {
              token: admin,
              body: JSON.stringify({ jti: jtiOf(jwt) }),
            });
            writes.push(revoked);
            if (revoked.status < 300) acknowledged.push(jwt);
          }
          await sleep(20);
        }
      };
      const load = [verifier(), writer(), writer()];
      await sleep(500);
      const faultAt = Date.now();
      let pids: number[] = [];
      if (fault === 'SIGKILL') process.kill(postgresPids(dataDir)[0], 'SIGKILL');
      else pids = pausePostgres(dataDir);
      // A write of its own during the fault, so that one surely meets it (the writers' may fall
      // before and after it on a loaded machine).
      const during = (async () => {
        const victim = await call(server.url, 'POST', '/oauth/token', {
          body: 'grant_type=client_credentials',
          type: 'application/x-www-form-urlencoded',
          basic: `${CLIENTS.operator.id}:${CLIENTS.operator.secret}`,
        });
        if (victim.status !== 200) return writes.push(victim);
        writes.push(
          await call(server.url, 'POST', '/revoke', {
            token: admin,
            body: JSON.stringify({ jti: jtiOf(JSON.parse(victim.body).access_token as string) }),
          }),
        );
      })();
      const pausedFor = 2000;
      if (fault === 'SIGSTOP') {
        await sleep(pausedFor);
        for (const pid of pids) process.kill(pid, 'SIGCONT');
      }
      await during;
      const restoredAt = Date.now();
      // Back: a fresh write succeeds within 5 s of the fault ending.
      let backAt = 0;
      while (Date.now() - restoredAt < 8000) {
        const probe = await call(server.url, 'POST', '/oauth/token', {
          body: 'grant_type=client_credentials',
          type: 'application/x-www-form-urlencoded',
          basic: `${CLIENTS.operator.id}:${CLIENTS.operator.secret}`,
        });
        if (probe.status === 200) {
          backAt = Date.now();
          break;
        }
        await sleep(100);
      }
      await sleep(300);
      stop = true;
      await Promise.all(load);

      expect(backAt).toBeGreaterThan(0);
      expect(backAt - restoredAt).toBeLessThan(5000);
      // Verification is served from memory throughout.
      expect(verification.filter((s) => s !== 200)).toEqual([]);
      // Writes during the outage: 503 (never 500), answered within about a second.
      const failed = writes.filter((w) => w.status !== 200);
      expect(failed.length).toBeGreaterThan(0);
      const unexpected = failed
        .filter((w) => w.status !== 503)
        .map((w) => `${w.status} ${w.error ?? w.body.slice(0, 80)}`);
      // On failure, the server's own error lines say which path answered what.
      const errors = unexpected.length
        ? server
            .output()
            .split('\n')
            .filter((l) => /"level":50|Error/.test(l))
            .slice(-10)
        : [];
      expect({ unexpected, errors }).toEqual({ unexpected: [], errors: [] });
      // DATABASE_QUERY_TIMEOUT_MS=1000: a statement gives up after a second; a write inside a
      // transaction against a paused server waits for its statement and then its ROLLBACK
      // (~2 s). The bound on the slowest leaves room for a shared, loaded CI machine.
      const latencies = failed.map((w) => w.ms).sort((a, b) => a - b);
      expect(latencies[Math.floor(latencies.length / 2)]).toBeLessThan(3000);
      expect(latencies[latencies.length - 1]).toBeLessThan(6000);
      const oauthFailure = failed.find((w) => w.body.includes('"error"'));
      if (oauthFailure) expect(JSON.parse(oauthFailure.body).error).toBe('temporarily_unavailable');
      // Every acknowledged revocation holds.
      expect(acknowledged.length).toBeGreaterThan(0);
      for (const jwt of acknowledged) {
        const reply = await call(server.url, 'GET', '/v1/models', { token: jwt });
        expect(reply.status).toBe(401);
      }
      expect(faultAt).toBeLessThan(restoredAt + 1);
    }, 60_000);
  }
});

describe('faults: SIGKILL during rotations', () => {
  it('leaves exactly one active key after each kill, and the service starts and signs', async () => {
    const database = await createDatabase();
    const databaseUrl = new URL(process.env.TEST_ADMIN_DATABASE_URL as string);
    databaseUrl.pathname = `/${database}`;
    const env = {
      DATABASE_URL: databaseUrl.toString(),
      DATA_DIR: mkdtempSync(join(tmpdir(), 'tessera-rot-')),
    };
    try {
      // Each restarted server is the next round's victim: rounds + 1 starts in all.
      let server = await startServer(env);
      for (let round = 0; round < 3; round++) {
        const admin = await token(server.url, CLIENTS.admin);
        const rotations = Array.from({ length: 6 }, (_, i) =>
          call(server.url, 'POST', '/admin/keys/rotate', {
            token: admin,
            body: JSON.stringify({ mode: i % 3 === 0 ? 'hard' : 'soft' }),
          }),
        );
        await sleep(50 + round * 70);
        server.child.kill('SIGKILL');
        await Promise.all(rotations);
        await server.exited;
        server = await startServer(env);
        const fresh = await token(server.url, CLIENTS.admin);
        const keys = JSON.parse(
          (await call(server.url, 'GET', '/admin/keys', { token: fresh })).body,
        ) as Array<{ status: string }>;
        expect(keys.filter((key) => key.status === 'active')).toHaveLength(1);
        expect((await call(server.url, 'GET', '/v1/models', { token: fresh })).status).toBe(200);
      }
      await stopServer(server);
    } finally {
      await dropDatabase(database);
    }
  }, 240_000);
});

describe('faults: SIGTERM under load', () => {
  it('answers every in-flight and keep-alive request, and loses no usage count', async () => {
    const database = await createDatabase();
    const databaseUrl = new URL(process.env.TEST_ADMIN_DATABASE_URL as string);
    databaseUrl.pathname = `/${database}`;
    const dataDir = mkdtempSync(join(tmpdir(), 'tessera-term-'));
    const env = {
      DATABASE_URL: databaseUrl.toString(),
      DATA_DIR: dataDir,
      AUTH_POLICY_FILE: highLimitPolicy(dataDir),
    };
    try {
      const server = await startServer(env);
      const access = await token(server.url, CLIENTS.operator);
      const agent = new Agent({ keepAlive: true, maxSockets: 8 });
      let acknowledged = 0;
      const failures: string[] = [];
      let refused = false;
      const worker = async () => {
        while (!refused) {
          const reply = await call(server.url, 'POST', '/v1/infer', {
            token: access,
            agent,
            body: '{"prompt":"x"}',
          });
          if (reply.status === 200) acknowledged++;
          else if (reply.error === 'ECONNREFUSED')
            refused = true; // after the listener closed: never sent
          else failures.push(`${reply.status} ${reply.error ?? reply.body.slice(0, 80)}`);
        }
      };
      const workers = Array.from({ length: 8 }, worker);
      await sleep(1500);
      server.child.kill('SIGTERM');
      const code = await server.exited;
      refused = true;
      await Promise.all(workers);
      agent.destroy();
      expect(code).toBe(0);
      expect(failures).toEqual([]);
      expect(acknowledged).toBeGreaterThan(10);

      const restarted = await startServer(env);
      const usage = JSON.parse(
        (
          await call(restarted.url, 'GET', '/v1/usage', {
            token: await token(restarted.url, CLIENTS.operator),
          })
        ).body,
      );
      const counted = usage.endpoints.find(
        (e: { endpoint: string }) => e.endpoint === 'POST /v1/infer',
      )?.requests;
      expect(counted).toBe(acknowledged);
      await stopServer(restarted);
    } finally {
      await dropDatabase(database);
      rmSync(dataDir, { recursive: true, force: true });
    }
  }, 180_000);
});

describe('faults: the Redis rate-limit store stopped', () => {
  it('answers 503 with readiness red while Redis is down (revocations still work), and recovers on its own', async () => {
    const port = await freePort();
    let redis = await startTestRedis({ port });
    const sut = await startTestApp({
      env: { REDIS_URL: redis.url, REDIS_KEY_PREFIX: `faults-${port}:` },
    });
    try {
      const access = await token(sut.url, CLIENTS.operator);
      const admin = await token(sut.url, CLIENTS.admin);
      const leaked = await token(sut.url, CLIENTS.operator);
      const infer = () =>
        call(sut.url, 'POST', '/v1/infer', { token: access, body: '{"prompt":"x"}' });
      const ready = () => call(sut.url, 'GET', '/health/ready');
      expect((await infer()).status).toBe(200);
      expect((await ready()).status).toBe(200);
      await redis.stop();
      await sleep(300);
      expect((await infer()).status).toBe(503);
      // Revoking a leaked token does not wait for Redis: the revocation routes count this
      // replica's requests meanwhile (they answered 503 "Rate limit store unavailable").
      const revoked = await call(sut.url, 'POST', '/revoke', {
        token: admin,
        body: JSON.stringify({ jti: jtiOf(leaked) }),
      });
      expect(revoked.status).toBe(200);
      expect(revoked.headers['ratelimit-limit']).toBeDefined();
      const refused = await call(sut.url, 'GET', '/v1/models', { token: leaked });
      expect(refused.status).toBe(401);
      expect(refused.body).toContain('revoked_token');
      const red = await ready();
      expect(red.status).toBe(503);
      expect(red.body).toContain('rate_limit_store');
      redis = await startTestRedis({ port });
      const restartedAt = Date.now();
      let back = false;
      while (!back && Date.now() - restartedAt < 5000) {
        back = (await ready()).status === 200 && (await infer()).status === 200;
        if (!back) await sleep(100);
      }
      expect(back).toBe(true);
    } finally {
      await sut.close();
      await redis.stop();
    }
  }, 60_000);
});
