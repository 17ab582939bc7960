import { ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, Server } from 'node:http';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { freePort } from '../src/database/embedded-postgres';
import { createDatabase, dropDatabase } from './support/app';
import { bearer, CLIENTS, clientsJson, tokenFor } from './support/factories';
import { startServerProcess } from './support/process';

interface OtlpSpan {
  name: string;
  kind: number;
  traceId: string;
  attributes?: Array<{ key: string; value: { stringValue?: string } }>;
}

/** A tiny OTLP/HTTP receiver (JSON encoding): collects the spans of every POST /v1/traces. */
async function otlpReceiver(): Promise<{
  server: Server;
  port: number;
  spans: OtlpSpan[];
  paths: Set<string>;
}> {
  const spans: OtlpSpan[] = [];
  const paths = new Set<string>();
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      paths.add(`${req.method} ${req.url}`);
      if (req.method === 'POST' && req.url === '/v1/traces') {
        const payload = JSON.parse(body) as {
          resourceSpans: Array<{ scopeSpans: Array<{ spans: OtlpSpan[] }> }>;
        };
        for (const rs of payload.resourceSpans)
          for (const ss of rs.scopeSpans) spans.push(...ss.spans);
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return { server, port, spans, paths };
}

/** An OpenAI-compatible upstream answering GET /v1/models. */
async function upstream(): Promise<{ server: Server; port: number }> {
  const server = createServer((_req, res) =>
    res
      .writeHead(200, { 'content-type': 'application/json' })
      .end(JSON.stringify({ object: 'list', data: [{ id: 'm1', object: 'model' }] })),
  );
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return { server, port };
}

/**
 * The operator's view of a real server process: request ids on every answer, one JSON line per
 * request (id, route, status, subject, client; never a credential), every stdout line JSON,
 * metrics on the unauthenticated METRICS_PORT listener, and OpenTelemetry spans (request, guard
 * chain, database, upstream) arriving at an OTLP/HTTP receiver.
 */
describe('observability of a running server', () => {
  let child: ChildProcess;
  let stdout = '';
  let stderr = '';
  let url: string;
  let metricsUrl: string;
  let database: string;
  let dataDir: string;
  let receiver: Awaited<ReturnType<typeof otlpReceiver>>;
  let model: Awaited<ReturnType<typeof upstream>>;
  const seen: Record<string, string | undefined> = {};

  beforeAll(async () => {
    receiver = await otlpReceiver();
    model = await upstream();
    database = await createDatabase();
    dataDir = mkdtempSync(join(tmpdir(), 'tessera-obs-'));
    const port = await freePort();
    const metricsPort = await freePort();
    url = `http://127.0.0.1:${port}`;
    metricsUrl = `http://127.0.0.1:${metricsPort}`;
    const databaseUrl = new URL(process.env.TEST_ADMIN_DATABASE_URL as string);
    databaseUrl.pathname = `/${database}`;
    child = spawn(process.execPath, ['-r', 'ts-node/register/transpile-only', 'src/main.ts'], {
      cwd: join(__dirname, '..'),
      env: {
        PATH: process.env.PATH ?? '',
        NODE_ENV: 'test',
        LOG_LEVEL: 'info',
        PORT: String(port),
        DATABASE_URL: databaseUrl.toString(),
        DATA_DIR: dataDir,
        JWT_ISSUER: url,
        AUTH_CLIENTS_JSON: clientsJson(),
        KEY_ENCRYPTION_KEY: Buffer.alloc(32, 7).toString('base64'),
        METRICS_PORT: String(metricsPort),
        UPSTREAM_URL: `http://127.0.0.1:${model.port}`,
        OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${receiver.port}`,
        OTEL_BSP_SCHEDULE_DELAY: '100',
        // Were OTLP metrics on (the SDK's default), they would arrive within the test.
        OTEL_METRIC_EXPORT_INTERVAL: '200',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    const deadline = Date.now() + 90_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`server exited: ${stdout}${stderr}`);
      const ready = await fetch(`${url}/health/ready`).catch(() => undefined);
      if (ready?.status === 200) break;
      if (Date.now() > deadline) throw new Error(`server not ready: ${stdout}${stderr}`);
      await new Promise((r) => setTimeout(r, 200));
    }

    // The traffic the assertions look at.
    const operator = await tokenFor(url, CLIENTS.operator);
    seen.operatorToken = operator;
    const traced = await request(url)
      .post('/v1/infer')
      .set(bearer(operator))
      .set('X-Request-Id', 'trace-me-123')
      .send({ prompt: 'hello' });
    expect(traced.status).toBe(200);
    seen.given = traced.headers['x-request-id'];
    seen.spaced = (
      await request(url)
        .post('/v1/infer')
        .set(bearer(operator))
        .set('X-Request-Id', 'has space')
        .send({ prompt: 'x' })
    ).headers['x-request-id'];
    seen.long = (
      await request(url)
        .post('/v1/infer')
        .set(bearer(operator))
        .set('X-Request-Id', 'x'.repeat(129))
        .send({ prompt: 'x' })
    ).headers['x-request-id'];
    const refused = await request(url).post('/v1/infer').send({ prompt: 'x' });
    expect(refused.status).toBe(401);
    seen.refused = refused.headers['x-request-id'];
    expect((await request(url).get('/v1/models').set(bearer(operator))).status).toBe(200);
    expect((await request(url).get('/admin/audit').set(bearer(operator))).status).toBe(403);
    await request(url).get('/health/ready');
  }, 120_000);

  afterAll(async () => {
    if (child && child.exitCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    }
    receiver?.server.close();
    model?.server.close();
    if (database) await dropDatabase(database);
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  it('answers every request with x-request-id: the caller’s when sane, a UUID otherwise', () => {
    const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
    expect(seen.given).toBe('trace-me-123');
    expect(seen.spaced).toMatch(uuid);
    expect(seen.long).toMatch(uuid);
    expect(seen.refused).toMatch(uuid);
  });

  it('puts the request id of a refusal on its audit event', async () => {
    const admin = await tokenFor(url, CLIENTS.admin);
    const deadline = Date.now() + 5000;
    for (;;) {
      const page = await request(url)
        .get('/admin/audit')
        .query({ action: 'auth.failed' })
        .set(bearer(admin));
      const event = (page.body.events as Array<{ requestId?: string; details: unknown }>).find(
        (e) => e.requestId === seen.refused,
      );
      if (event) {
        expect(event.details).toMatchObject({ reason: 'not_authenticated' });
        return;
      }
      if (Date.now() > deadline) throw new Error('no auth.failed event with the request id');
      await new Promise((r) => setTimeout(r, 100));
    }
  });

  it('names the request on the events it caused: its id, address and user agent', async () => {
    const issued = await request(url)
      .post('/oauth/token')
      .auth(CLIENTS.viewer.id, CLIENTS.viewer.secret)
      .type('form')
      .set('X-Request-Id', 'issue-trace-1')
      .set('User-Agent', 'obs-test/1.0')
      .send({ grant_type: 'client_credentials' });
    expect(issued.status).toBe(200);
    const refused = await request(url)
      .post('/oauth/token')
      .auth(CLIENTS.viewer.id, 'not-the-secret-0123456789')
      .type('form')
      .set('X-Request-Id', 'issue-trace-2')
      .set('User-Agent', 'obs-test/1.0')
      .send({ grant_type: 'client_credentials' });
    expect(refused.status).toBe(401);
    const admin = await tokenFor(url, CLIENTS.admin);
    const find = async (action: string, requestId: string) => {
      const deadline = Date.now() + 5000;
      for (;;) {
        const page = await request(url).get('/admin/audit').query({ action }).set(bearer(admin));
        const event = (page.body.events as Array<Record<string, unknown>>).find(
          (e) => e.requestId === requestId,
        );
        if (event) return event;
        if (Date.now() > deadline) throw new Error(`no ${action} event of ${requestId}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    };
    expect(await find('token.issue', 'issue-trace-1')).toMatchObject({
      outcome: 'success',
      actor: CLIENTS.viewer.id,
      ip: '127.0.0.1',
      userAgent: 'obs-test/1.0',
    });
    expect(await find('client.authenticate', 'issue-trace-2')).toMatchObject({
      outcome: 'failure',
      target: CLIENTS.viewer.id,
      ip: '127.0.0.1',
      userAgent: 'obs-test/1.0',
    });
  });

  it('serves metrics without authentication on METRICS_PORT', async () => {
    const response = await fetch(`${metricsUrl}/metrics`);
    expect(response.status).toBe(200);
    const text = await response.text();
    for (const series of [
      /tessera_http_request_duration_seconds_count\{method="POST",route="\/v1\/infer",status="200"\} 3/,
      /tessera_http_request_duration_seconds_count\{method="POST",route="\/v1\/infer",status="401"\} 1/,
      /tessera_tokens_issued_total\{grant="client_credentials"\} [1-9]/,
      /tessera_auth_failures_total\{reason="not_authenticated"\} 1/,
      /tessera_authorization_denials_total\{permission="audit:read"\} 1/,
      /tessera_signing_keys\{state="active"\} 1/,
      /tessera_signing_key_age_seconds\{kid="[^"]+",state="active"\} \d/,
      /tessera_audit_buffer_depth \d/,
      /tessera_audit_events_dropped_total 0/,
      /jwt_parent_tokens_active_total 0/,
      /jwt_revoked_tokens_total 0/,
      /# TYPE jwt_parent_token_expiry_timestamp_seconds gauge/,
      /# TYPE jwt_parent_token_issued_timestamp_seconds gauge/,
      /tessera_log_lines_dropped_total 0/,
    ])
      expect(text).toMatch(series);
    // Every metric the Grafana dashboard queries is one this server publishes.
    const dashboard = readFileSync(
      join(__dirname, '..', 'deploy', 'grafana-dashboard.json'),
      'utf8',
    );
    const queried = new Set(
      [...dashboard.matchAll(/\b((?:tessera|jwt)_[a-z_]+)/g)].map((m) =>
        m[1].replace(/_(bucket|count|sum)$/, ''),
      ),
    );
    expect(queried.size).toBeGreaterThan(10);
    for (const name of queried) expect(text).toContain(`# TYPE ${name} `);
    expect(text).not.toContain('trace-me-123'); // routes are patterns, never raw URLs or ids
    expect((await fetch(`${metricsUrl}/other`)).status).toBe(404);
    // The API's own /metrics still needs view_metrics.
    expect((await request(url).get('/metrics')).status).toBe(401);
  });

  it('exports spans of the request, the guard chain, the database and the upstream call', async () => {
    const deadline = Date.now() + 15_000;
    const names = () => new Set(receiver.spans.map((s) => s.name));
    const wanted = ['guard authenticate', 'guard authorize', 'guard rate_limit'];
    // Spans arrive in batches, the upstream call's possibly in a later one than the guards'.
    const upstreamCall = () => receiver.spans.some((s) => s.kind === 3 && /^GET/.test(s.name));
    while (!(wanted.every((n) => names().has(n)) && upstreamCall()) && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 100));
    const all = [...names()];
    for (const name of wanted) expect(all).toContain(name);
    expect(all.some((n) => /^POST/.test(n))).toBe(true); // the HTTP request
    expect(all.some((n) => /pg|SELECT|INSERT|postgres/i.test(n))).toBe(true); // database calls
    // The upstream call (undici, kind CLIENT = 3).
    expect(upstreamCall()).toBe(true);
    // The request's server span carries its request id; its log line, the trace id (below).
    const tagged = receiver.spans.find((s) =>
      s.attributes?.some(
        (a) => a.key === 'tessera.request_id' && a.value.stringValue === 'trace-me-123',
      ),
    );
    expect(tagged).toMatchObject({ kind: 2, name: expect.stringMatching(/^POST/) }); // SERVER
    seen.traceId = tagged?.traceId;
    expect(seen.traceId).toMatch(/^[0-9a-f]{32}$/i);
  });

  it('exports no query string value: a credential a caller put in the URL stays out of the traces', async () => {
    const operator = seen.operatorToken as string;
    const sent = await request(url)
      .get(`/v1/models?access_token=${operator}&client_secret=${CLIENTS.viewer.secret}`)
      .set(bearer(operator))
      .set('X-Request-Id', 'trace-query');
    expect(sent.status).toBe(200);
    const ofRequest = () =>
      receiver.spans.find((s) =>
        s.attributes?.some(
          (a) => a.key === 'tessera.request_id' && a.value.stringValue === 'trace-query',
        ),
      );
    for (const deadline = Date.now() + 15_000; !ofRequest() && Date.now() < deadline;)
      await new Promise((r) => setTimeout(r, 100));
    const attribute = (key: string) =>
      ofRequest()?.attributes?.find((a) => a.key === key)?.value.stringValue;
    // The names stay (they say what was sent), the values do not (they were exported verbatim).
    expect(attribute('url.query')).toBe('access_token=[redacted]&client_secret=[redacted]');
    // The Nest handler's span of the same trace records the whole URL.
    const traceId = ofRequest()?.traceId;
    const fullUrls = receiver.spans
      .filter((s) => s.traceId === traceId)
      .flatMap((s) => s.attributes ?? [])
      .filter((a) => a.key === 'url.full')
      .map((a) => a.value.stringValue);
    expect(fullUrls.length).toBeGreaterThan(0);
    for (const full of fullUrls)
      expect(full).toBe('/v1/models?access_token=[redacted]&client_secret=[redacted]');
    const everything = JSON.stringify(receiver.spans);
    expect(everything).not.toContain(operator);
    expect(everything).not.toContain(CLIENTS.viewer.secret);
  });

  it('answers, logs and counts requests refused before routing like any other', async () => {
    const raw = (text: string) =>
      new Promise<string>((resolve, reject) => {
        const socket = connect(Number(new URL(url).port), '127.0.0.1');
        let answer = '';
        socket.on('data', (d: Buffer) => (answer += d.toString()));
        socket.on('end', () => resolve(answer));
        socket.on('error', reject);
        socket.end(text);
      });
    // Not HTTP (Node's parser refuses the method): no request exists, the answer is still a
    // problem, and the connection closes.
    const unparsed = await raw('FOO /health HTTP/1.1\r\nHost: x\r\n\r\n');
    expect(unparsed).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/);
    expect(unparsed).toContain('Content-Type: application/problem+json');
    expect(unparsed).toContain('Connection: close');
    expect(JSON.parse(unparsed.slice(unparsed.indexOf('\r\n\r\n') + 4))).toMatchObject({
      status: 400,
      code: 'bad_request',
    });
    // A path that is not valid percent-encoding, and one with an overlong parameter: problem+json,
    // with the request id, never the URL quoted back.
    const long = 'a'.repeat(3000);
    const badUrl = await request(url)
      .delete('/admin/roles/%ED%A0%80')
      .set('X-Request-Id', 'edge-bad-url');
    const tooLong = await request(url)
      .delete(`/admin/clients/${long}`)
      .set('X-Request-Id', 'edge-too-long');
    for (const [response, status, id] of [
      [badUrl, 400, 'edge-bad-url'],
      [tooLong, 414, 'edge-too-long'],
    ] as const) {
      expect(response.status).toBe(status);
      expect(response.headers['content-type']).toContain('application/problem+json');
      expect(response.headers['x-request-id']).toBe(id);
      expect(response.body).toMatchObject({ status, type: expect.stringContaining('/problems/') });
      expect(response.text).not.toContain('%ED%A0%80');
      expect(response.text).not.toContain('aaaaaaaaaa');
    }
    expect(badUrl.body.code).toBe('validation_failed');
    expect(tooLong.body.code).toBe('uri_too_long');
    // A 128-character client id (the longest allowed) reaches its route (it was a 414).
    const admin = await tokenFor(url, CLIENTS.admin);
    const longest = await request(url)
      .get(`/admin/clients/${'a'.repeat(128)}`)
      .set(bearer(admin));
    expect(longest.status).toBe(404);
    // Counted under route "unmatched", and logged (lines are written within 250 ms).
    const metrics = await (await fetch(`${metricsUrl}/metrics`)).text();
    for (const series of [
      /tessera_http_request_duration_seconds_count\{method="-",route="unmatched",status="400"\} 1/,
      /tessera_http_request_duration_seconds_count\{method="DELETE",route="unmatched",status="400"\} 1/,
      /tessera_http_request_duration_seconds_count\{method="DELETE",route="unmatched",status="414"\} 1/,
    ])
      expect(metrics).toMatch(series);
    await new Promise((r) => setTimeout(r, 500));
    const lines = stdout
      .split('\n')
      .filter((l) => l.includes('"route":"unmatched"'))
      .map(
        (l) => JSON.parse(l) as { req?: { id: string; url: string }; status: number; msg: string },
      );
    expect(lines).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ status: 400, msg: 'request refused: not valid HTTP' }),
        expect.objectContaining({
          req: expect.objectContaining({ id: 'edge-bad-url' }),
          status: 400,
        }),
        // The 3000-character path is cut to 200 characters and an ellipsis in the line.
        expect.objectContaining({
          req: expect.objectContaining({
            id: 'edge-too-long',
            url: `${`/admin/clients/${long}`.slice(0, 200)}…`,
          }),
          status: 414,
        }),
      ]),
    );
  });

  it('writes every stdout line as JSON, one per request with id, subject and client', async () => {
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
    const lines = stdout.split('\n').filter((l) => l.trim() !== '');
    const parsed = lines.map((line) => {
      try {
        return JSON.parse(line) as Record<string, unknown>;
      } catch {
        throw new Error(`not a JSON line: ${line}`);
      }
    });
    expect(parsed.some((l) => String(l.msg).startsWith('Tessera listening on'))).toBe(true);
    // The shutdown is in the log too: when it began, and (the last line) that it finished.
    expect(
      parsed.some((l) => l.msg === 'Shutting down (SIGTERM): finishing the requests in flight'),
    ).toBe(true);
    expect(parsed[parsed.length - 1]).toMatchObject({
      level: 30,
      context: 'Tessera',
      msg: expect.stringMatching(/^Shut down in \d+ ms$/),
    });
    expect(stderr).toBe('');
    const requests = parsed.filter((l) => l.msg === 'request completed') as Array<{
      req: { id: string; method: string; url: string };
      route: string;
      status: number;
      responseTime: number;
      subject?: string;
      client?: string;
    }>;
    const traced = requests.find((r) => r.req.id === 'trace-me-123');
    expect(traced).toMatchObject({
      route: '/v1/infer',
      status: 200,
      subject: CLIENTS.operator.id,
      client: CLIENTS.operator.id,
      responseTime: expect.any(Number),
    });
    // Joined with its trace: the trace id of the span that carries its request id.
    expect((traced as { trace_id?: string }).trace_id?.toLowerCase()).toBe(
      seen.traceId?.toLowerCase(),
    );
    // The token endpoint names the client it issued for (never the secret it was sent).
    expect(requests.find((r) => r.req.id === 'issue-trace-1')).toMatchObject({
      route: '/oauth/token',
      status: 200,
      subject: CLIENTS.viewer.id,
      client: CLIENTS.viewer.id,
    });
    expect(requests.find((r) => r.req.id === 'issue-trace-2')?.client).toBeUndefined();
    expect(stdout).not.toContain(CLIENTS.viewer.secret);
    const refused = requests.find((r) => r.req.id === seen.refused);
    expect(refused).toMatchObject({ status: 401 });
    expect(refused?.subject).toBeUndefined();
    // Expected conditions carry no stack trace; no credential reaches the log.
    expect(stdout).not.toMatch(/\n\s+at /);
    expect(stdout).not.toContain(CLIENTS.operator.secret);
    expect(stdout).not.toContain(seen.operatorToken);
    expect(stderr).not.toContain(seen.operatorToken);
    // Passing readiness probes are not logged; each other request is, once.
    expect(requests.filter((r) => r.route === '/health/ready')).toHaveLength(0);
    expect(requests.filter((r) => r.req.id === 'trace-me-123')).toHaveLength(1);
  });

  it('sends the collector traces only (no OTLP metrics or logs unless asked for)', () => {
    // After the shutdown above, which flushes whatever the SDK has.
    expect([...receiver.paths]).toEqual(['POST /v1/traces']);
  });
});

describe('tracing with the collector down', () => {
  it('shuts down in time and with exit code 0, the last spans dropped with a warning', async () => {
    const database = await createDatabase();
    const url = new URL(process.env.TEST_ADMIN_DATABASE_URL as string);
    url.pathname = `/${database}`;
    try {
      const server = await startServerProcess(await freePort(), {
        DATABASE_URL: url.toString(),
        DATA_DIR: mkdtempSync(join(tmpdir(), 'tessera-otel-down-')),
        JWT_ISSUER: 'http://tessera.test',
        AUTH_CLIENTS_JSON: clientsJson(),
        OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${await freePort()}`, // nobody listens
      });
      for (let i = 0; i < 5; i++) await request(server.url).get('/v1/models');
      const started = Date.now();
      const exited = new Promise<number | null>((r) => server.process.once('exit', r));
      server.process.kill('SIGTERM');
      expect(await exited).toBe(0);
      expect(Date.now() - started).toBeLessThan(10_000);
      expect(server.output()).not.toContain('error while shutting down');
      expect(server.output()).toContain('Last spans not exported at shutdown');
    } finally {
      await dropDatabase(database);
    }
  }, 60_000);
});
