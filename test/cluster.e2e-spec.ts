import { execFileSync } from 'node:child_process';
import { request as httpRequest } from 'node:http';
import { Client } from 'pg';
import { freePort } from '../src/database/embedded-postgres';
import { clientsJson, CLIENTS, tokenFor } from './support/factories';
import { createDatabase, dropDatabase } from './support/app';
import { policyFile, standardPolicy } from './support/policy';
import { allWorkersStarted, isAlive, RunningServer, startServerProcess } from './support/process';

function databaseUrl(database: string): string {
  const url = new URL(process.env.TEST_ADMIN_DATABASE_URL as string);
  url.pathname = `/${database}`;
  return url.toString();
}

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  requestId: string;
  body: string;
}

/**
 * One request on a connection of its own: the cluster's primary hands new connections to the
 * workers in turn, so consecutive calls reach both workers (the request log says which).
 */
function fresh(
  url: string,
  init: { method?: string; headers?: Record<string, string>; body?: string } = {},
) {
  return new Promise<Answer>((resolve, reject) => {
    // A unique User-Agent per request: the request log records it, with the worker's pid.
    const requestId = `cluster-test-${Math.random().toString(36).slice(2)}`;
    const req = httpRequest(
      url,
      {
        method: init.method ?? 'GET',
        agent: false,
        headers: { ...init.headers, 'user-agent': requestId },
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, requestId, body }),
        );
      },
    );
    req.setTimeout(10_000, () => req.destroy(new Error(`no answer from ${url} in 10 s`)));
    req.on('error', reject);
    req.end(init.body);
  });
}

/** The pid of the worker that logged each request (request logs carry the process id). */
function pidsOf(server: RunningServer, answers: Answer[]): Set<number> {
  const pids = new Set<number>();
  for (const line of server.output().split('\n')) {
    if (!line.startsWith('{')) continue;
    const entry = JSON.parse(line) as { pid?: number; req?: { headers?: Record<string, string> } };
    const agent = entry.req?.headers?.['user-agent'];
    if (agent && entry.pid && answers.some((a) => a.requestId === agent)) pids.add(entry.pid);
  }
  return pids;
}

/**
 * How many workers answered `answers`, once their request lines are in the output: log lines are
 * buffered and written within 250 ms, so wait for them (up to 5 s).
 */
async function workersThatAnswered(server: RunningServer, answers: Answer[]): Promise<number> {
  const deadline = Date.now() + 5_000;
  let pids = pidsOf(server, answers);
  while (pids.size < 2 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
    pids = pidsOf(server, answers);
  }
  return pids.size;
}

describe('cluster mode: WORKERS=2 behaves as one server', () => {
  let database: string;
  let server: RunningServer;

  beforeAll(async () => {
    database = await createDatabase();
    server = await startServerProcess(await freePort(), {
      WORKERS: '2',
      DATABASE_URL: databaseUrl(database),
      JWT_ISSUER: 'http://tessera.test',
      AUTH_CLIENTS_JSON: clientsJson(),
      AUTH_POLICY_FILE: policyFile(
        standardPolicy(
          '  rate_limits:\n    operator: "6/minute"\n  token_limits:\n    admin: "30/hour"\n',
        ),
      ),
      KEY_ENCRYPTION_KEY: Buffer.alloc(32, 9).toString('base64'),
      LOG_LEVEL: 'info', // request logs name the worker (pid) that answered
    });
    // The first worker answers as soon as it listens; the second starts after it.
    await allWorkersStarted(server);
  }, 240_000);

  afterAll(async () => {
    await server?.stop();
    await dropDatabase(database);
  });

  it('runs two worker processes that answer on one port', async () => {
    const answers = await Promise.all([0, 1, 2, 3].map(() => fresh(`${server.url}/health`)));
    expect(server.output()).toContain('with 2 workers');
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 200]);
    // The primary's lines are JSON lines too, the listening line included.
    const listening = server
      .output()
      .split('\n')
      .find((line) => line.includes('with 2 workers')) as string;
    expect(JSON.parse(listening)).toMatchObject({
      level: 30,
      pid: server.process.pid,
      context: 'Tessera',
      msg: expect.stringMatching(/^Tessera listening on http:\/\/.+ with 2 workers/),
    });
  });

  it('answers /metrics for the whole cluster, whichever worker is scraped', async () => {
    const admin = await tokenFor(server.url, CLIENTS.admin);
    const auth = { authorization: `Bearer ${admin}` };
    const issued = async () => {
      const scrapes: Answer[] = [];
      for (let i = 0; i < 4; i++)
        scrapes.push(await fresh(`${server.url}/metrics`, { headers: auth }));
      expect(scrapes.map((a) => a.status)).toEqual([200, 200, 200, 200]);
      expect(await workersThatAnswered(server, scrapes)).toBe(2);
      return scrapes.map((a) => {
        const line = /^tessera_tokens_issued_total\{grant="client_credentials"\} (\d+)$/m.exec(
          a.body,
        );
        return Number(line?.[1]);
      });
    };
    const before = await issued();
    // Every scrape the same count (each worker's alone would alternate), …
    expect(new Set(before).size).toBe(1);
    const form = {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: `Basic ${Buffer.from(`${CLIENTS.admin.id}:${CLIENTS.admin.secret}`).toString('base64')}`,
      },
      body: 'grant_type=client_credentials',
    };
    const tokens: Answer[] = [];
    for (let i = 0; i < 4; i++) tokens.push(await fresh(`${server.url}/oauth/token`, form));
    expect(tokens.map((a) => a.status)).toEqual([200, 200, 200, 200]);
    expect(await workersThatAnswered(server, tokens)).toBe(2);
    // … and it counts the tokens both workers issued.
    expect(await issued()).toEqual(before.map((n) => n + 4));
  });

  it('counts one rate limit across both workers', async () => {
    const token = await tokenFor(server.url, CLIENTS.operator);
    const auth = { authorization: `Bearer ${token}` };
    const answers: Answer[] = [];
    for (let i = 0; i < 6; i++)
      answers.push(await fresh(`${server.url}/v1/models`, { headers: auth }));
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 200, 200, 200]);
    // One budget: the remaining count goes down by one per request, whichever worker answered.
    expect(answers.map((a) => a.headers['ratelimit-remaining'])).toEqual([
      '5',
      '4',
      '3',
      '2',
      '1',
      '0',
    ]);
    const refused = await fresh(`${server.url}/v1/models`, { headers: auth });
    expect(refused.status).toBe(429);
    expect(await workersThatAnswered(server, [...answers, refused])).toBe(2);
  });

  it('counts one token limit across both workers (no Redis: the primary holds the counters)', async () => {
    const token = await tokenFor(server.url, CLIENTS.admin);
    const call = () =>
      fresh(`${server.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        // "a b c" in, "a b c" out: 6 tokens a call against 30 an hour.
        body: JSON.stringify({
          model: 'tessera-echo',
          messages: [{ role: 'user', content: 'a b c' }],
        }),
      });
    const answers: Answer[] = [];
    for (let i = 0; i < 7; i++) answers.push(await call());
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 200, 200, 429, 429]);
    // Each worker alone would have let ten calls through; together they stop after five.
    const remaining = answers.map((a) => Number(a.headers['x-ratelimit-remaining-tokens']));
    expect(answers[0].headers['x-ratelimit-limit-tokens']).toBe('30');
    expect(remaining.slice(0, 5)).toEqual([...remaining.slice(0, 5)].sort((a, b) => b - a));
    expect(remaining[6]).toBe(0);
    expect(await workersThatAnswered(server, answers)).toBe(2);
  });

  it('honours on every worker a revocation made through one of them', async () => {
    const client = CLIENTS.admin;
    const token = await tokenFor(server.url, client);
    const auth = { authorization: `Bearer ${token}` };
    expect((await fresh(`${server.url}/v1/models`, { headers: auth })).status).toBe(200);

    const revoked = await fresh(`${server.url}/oauth/revoke`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: `Basic ${Buffer.from(`${client.id}:${client.secret}`).toString('base64')}`,
      },
      body: `token=${token}`,
    });
    expect(revoked.status).toBe(200);

    // The other worker learns it through PostgreSQL NOTIFY: allow it a moment, then every
    // request, on either worker, is refused.
    const deadline = Date.now() + 5_000;
    let after: Answer[] = [];
    while (Date.now() < deadline) {
      after = [];
      for (let i = 0; i < 6; i++)
        after.push(await fresh(`${server.url}/v1/models`, { headers: auth }));
      if (after.every((a) => a.status === 401)) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(after.map((a) => a.status)).toEqual([401, 401, 401, 401, 401, 401]);
    expect(await workersThatAnswered(server, after)).toBe(2);
  });

  it('refuses tokens on every worker to a client disabled or re-keyed through one of them', async () => {
    const admin = await tokenFor(server.url, CLIENTS.admin);
    const json = { authorization: `Bearer ${admin}`, 'content-type': 'application/json' };
    const form = (id: string, secret: string) => ({
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`,
      },
      body: 'grant_type=client_credentials',
    });
    // The token endpoint reads the clients from memory: a change must reach both workers.
    const created = await fetch(`${server.url}/admin/clients`, {
      method: 'POST',
      headers: json,
      body: JSON.stringify({ id: 'cluster-app', roles: ['operator'] }),
    });
    expect(created.status).toBe(201);
    const { client_secret: secret } = (await created.json()) as { client_secret: string };
    const issued: Answer[] = [];
    for (let i = 0; i < 4; i++)
      issued.push(await fresh(`${server.url}/oauth/token`, form('cluster-app', secret)));
    expect(issued.map((a) => a.status)).toEqual([200, 200, 200, 200]);

    const reset = await fetch(`${server.url}/admin/clients/cluster-app/secret`, {
      method: 'POST',
      headers: json,
      body: '{}',
    });
    expect(reset.status).toBe(201);
    const fresher = ((await reset.json()) as { client_secret: string }).client_secret;
    const settle = async (id: string, secret: string, want: number) => {
      const deadline = Date.now() + 5_000;
      let answers: Answer[] = [];
      while (Date.now() < deadline) {
        answers = [];
        for (let i = 0; i < 4; i++)
          answers.push(await fresh(`${server.url}/oauth/token`, form(id, secret)));
        if (answers.every((a) => a.status === want)) break;
        await new Promise((r) => setTimeout(r, 50));
      }
      return answers;
    };
    expect((await settle('cluster-app', secret, 401)).map((a) => a.status)).toEqual([
      401, 401, 401, 401,
    ]);
    const withNew = await settle('cluster-app', fresher, 200);
    expect(withNew.map((a) => a.status)).toEqual([200, 200, 200, 200]);
    expect(await workersThatAnswered(server, withNew)).toBe(2);

    const disabled = await fetch(`${server.url}/admin/clients/cluster-app`, {
      method: 'PATCH',
      headers: json,
      body: JSON.stringify({ disabled: true }),
    });
    expect(disabled.status).toBe(200);
    const refused = await settle('cluster-app', fresher, 401);
    expect(refused.map((a) => a.status)).toEqual([401, 401, 401, 401]);
    expect(await workersThatAnswered(server, refused)).toBe(2);
  });

  it('replaces a worker that dies, even one that dies soon after it started', async () => {
    const workers = () =>
      execFileSync('pgrep', ['-P', String(server.process.pid)])
        .toString()
        .trim()
        .split('\n')
        .map(Number);
    const waitFor = async (what: () => boolean, label: string) => {
      const deadline = Date.now() + 60_000;
      while (!what()) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${label}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    };
    const started = (pid: number) =>
      server
        .output()
        .split('\n')
        .some(
          (line) =>
            line.includes(`"pid":${pid},`) &&
            line.includes('Nest application successfully started'),
        );
    const [first, other] = workers();
    process.kill(first, 'SIGKILL');
    await waitFor(() => server.output().includes(`worker ${first} exited`), 'the first exit');
    await waitFor(() => workers().length === 2 && !workers().includes(first), 'a replacement');
    const replacement = workers().find((pid) => pid !== other) as number;
    await waitFor(() => started(replacement), 'the replacement to start');
    // It dies at once too (no crash-loop stop: the cluster started long ago): replaced again,
    // after a second, while the other worker answers. (Requests are sent once the primary has
    // seen the exit: node:cluster's primary can hand a connection to a worker in the moment it
    // dies, and that connection is never answered.)
    process.kill(replacement, 'SIGKILL');
    await waitFor(
      () =>
        server
          .output()
          .includes(`worker ${replacement} exited (signal SIGKILL); starting a replacement in 1 s`),
      'the primary to see the exit',
    );
    const answers = await Promise.all([0, 1, 2, 3].map(() => fresh(`${server.url}/health`)));
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 200]);
    await waitFor(
      () => workers().length === 2 && !workers().includes(replacement),
      'a second replacement',
    );
    const third = workers().find((pid) => pid !== other) as number;
    await waitFor(() => started(third), 'the second replacement to start');
    expect(server.process.exitCode).toBeNull();
    const after = await Promise.all([0, 1, 2, 3].map(() => fresh(`${server.url}/health`)));
    expect(after.map((a) => a.status)).toEqual([200, 200, 200, 200]);
  }, 180_000);

  it('stops every worker on SIGTERM', async () => {
    const exited = new Promise<number | null>((resolve) => server.process.once('exit', resolve));
    server.process.kill('SIGTERM');
    expect(await exited).toBe(0);
    await expect(fresh(`${server.url}/health`)).rejects.toThrow();
    // The log says when the cluster's shutdown begins and when it has ended (the primary's lines
    // around the workers' own): it just stopped after the workers' lines.
    const lines = server
      .output()
      .trim()
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as { pid: number; msg: string });
    const primary = server.process.pid;
    const begin = lines.findIndex(
      (line) =>
        line.pid === primary &&
        line.msg === 'Shutting down (SIGTERM): stopping the workers, each finishing its requests',
    );
    expect(begin).toBeGreaterThanOrEqual(0);
    const workersDone = lines
      .map((line, index) => ({ line, index }))
      .filter(({ line }) => line.pid !== primary && /^Shut down in \d+ ms$/.test(line.msg));
    expect(workersDone).toHaveLength(2);
    expect(lines[lines.length - 1]).toMatchObject({
      pid: primary,
      msg: expect.stringMatching(/^Shut down in \d+ ms$/),
    });
  }, 30_000);
});

describe('cluster mode: a worker whose primary is killed shuts down gracefully', () => {
  let database: string;
  let server: RunningServer;

  beforeAll(async () => {
    database = await createDatabase();
    server = await startServerProcess(await freePort(), {
      WORKERS: '2',
      DATABASE_URL: databaseUrl(database),
      JWT_ISSUER: 'http://tessera.test',
      AUTH_CLIENTS_JSON: clientsJson(),
      AUTH_POLICY_FILE: policyFile(standardPolicy('')),
      KEY_ENCRYPTION_KEY: Buffer.alloc(32, 9).toString('base64'),
      LOG_LEVEL: 'info',
    });
    await allWorkersStarted(server);
  }, 240_000);

  afterAll(async () => {
    await server?.stop();
    await dropDatabase(database);
  });

  // node:cluster ends a worker at once when its primary's IPC channel closes: the usage counts it
  // had not yet written (once a second) were lost, and nothing was logged.
  it('saves what its requests counted, says why it stops, and exits', async () => {
    const token = await tokenFor(server.url, CLIENTS.operator);
    const workers = execFileSync('pgrep', ['-P', String(server.process.pid)])
      .toString()
      .trim()
      .split('\n')
      .map(Number);
    expect(workers).toHaveLength(2);
    const answers: Answer[] = [];
    for (let i = 0; i < 6; i++)
      answers.push(
        await fresh(`${server.url}/v1/infer`, {
          method: 'POST',
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
          body: JSON.stringify({ prompt: 'counted' }),
        }),
      );
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 200, 200, 200]);
    server.process.kill('SIGKILL');

    const deadline = Date.now() + 20_000;
    while (workers.some(isAlive) && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 100));
    expect(workers.filter(isAlive)).toEqual([]);

    const client = new Client({ connectionString: databaseUrl(database) });
    await client.connect();
    try {
      const { rows } = await client.query<{ requests: string }>(
        `SELECT COALESCE(SUM(requests), 0) AS requests FROM usage_counters
          WHERE subject = $1 AND endpoint = 'POST /v1/infer'`,
        [CLIENTS.operator.id],
      );
      expect(Number(rows[0].requests)).toBe(6);
    } finally {
      await client.end();
    }
    for (const pid of workers) {
      const said = server
        .output()
        .split('\n')
        .filter((line) => line.includes(`"pid":${pid},`))
        .map((line) => (JSON.parse(line) as { msg: string }).msg);
      expect(said).toEqual(
        expect.arrayContaining([
          'Shutting down (the cluster primary exited): finishing the requests in flight',
          expect.stringMatching(/^Shut down in \d+ ms$/),
        ]),
      );
    }
  }, 60_000);
});

// WORKERS × DATABASE_POOL_SIZE could exceed what PostgreSQL allows (100 by default, as here):
// under load the last connections were refused with "too many clients" and requests got 503s,
// with nothing at start to say why. The first worker now says so, once.
describe('cluster mode: more connections than PostgreSQL allows', () => {
  it('warns once, naming max_connections, WORKERS and DATABASE_POOL_SIZE', async () => {
    const database = await createDatabase();
    const server = await startServerProcess(await freePort(), {
      WORKERS: '2',
      DATABASE_POOL_SIZE: '50', // 2 × (50 + 2) + 10 = 114 > 100
      DATABASE_URL: databaseUrl(database),
      JWT_ISSUER: 'http://tessera.test',
      KEY_ENCRYPTION_KEY: Buffer.alloc(32, 9).toString('base64'),
    });
    try {
      await allWorkersStarted(server);
      const admin = new Client({ connectionString: databaseUrl(database) });
      await admin.connect();
      const allowed = Number(
        (await admin.query<{ max_connections: string }>('SHOW max_connections')).rows[0]
          .max_connections,
      );
      await admin.end();
      const warnings = server
        .output()
        .split('\n')
        .filter((line) => line.includes('may open'));
      expect(warnings).toEqual([
        expect.stringContaining(
          `PostgreSQL allows ${allowed} connections; 2 process(es) with DATABASE_POOL_SIZE=50 may open 114`,
        ),
      ]);
      expect(JSON.parse(warnings[0])).toMatchObject({ level: 40, context: 'Database' });
    } finally {
      await server.stop();
      await dropDatabase(database);
    }
  }, 240_000);
});
