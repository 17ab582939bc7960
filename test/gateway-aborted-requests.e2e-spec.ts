import { createServer, Server } from 'node:http';
import { freePort } from '../src/database/embedded-postgres';
import { createDatabase, dropDatabase } from './support/app';
import { bearer, CLIENTS, clientsJson, tokenFor } from './support/factories';
import { policyFile, standardPolicy } from './support/policy';
import { RunningServer, startServerProcess } from './support/process';

const PROMPT = 'prompt-words-that-never-reach-a-log';

/**
 * An OpenAI-compatible upstream whose answers take their time: `slow-stream` sends a chunk every
 * 200 ms (ten of them), `slow-headers` answers after 3 s, `breaks` sends two chunks and then
 * destroys the connection.
 */
async function upstream(): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => {
    let raw = '';
    req.on('data', (c: Buffer) => (raw += c.toString()));
    req.on('end', () => {
      const model = (JSON.parse(raw || '{}') as { model?: string }).model;
      const chunk = (i: number) =>
        `data: ${JSON.stringify({ object: 'chat.completion.chunk', model, choices: [{ index: 0, delta: { content: `word${i} ` } }] })}\n\n`;
      if (model === 'slow-headers') {
        const timer = setTimeout(() => res.end('{}'), 3000);
        res.on('close', () => clearTimeout(timer));
        return;
      }
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      let i = 0;
      const next = () => {
        if (res.destroyed) return;
        if (model === 'breaks' && i === 2) return void res.destroy();
        if (i === 10) return void res.end('data: [DONE]\n\n');
        res.write(chunk(i++));
        setTimeout(next, model === 'slow-stream' ? 200 : 5);
      };
      next();
    });
  });
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${port}` };
}

interface LogLine {
  msg: string;
  req?: { id: string };
  route?: string;
  status?: number;
  subject?: string;
  client?: string;
  aborted?: boolean;
  responseTime?: number;
}

/**
 * An answer whose connection closes before its end — the client going away mid-stream or before
 * the upstream answered, or a stream cut off by its upstream — is still one request: one log line
 * (`"aborted":true`, "request aborted") and one observation of the request metric. Fastify's
 * onResponse runs only for responses that finish, and these had neither.
 */
describe('requests whose answer was cut off are logged and counted (a real server process)', () => {
  let database: string;
  let model: Awaited<ReturnType<typeof upstream>>;
  let server: RunningServer;
  let token: string;

  beforeAll(async () => {
    database = await createDatabase();
    model = await upstream();
    const url = new URL(process.env.TEST_ADMIN_DATABASE_URL as string);
    url.pathname = `/${database}`;
    server = await startServerProcess(await freePort(), {
      LOG_LEVEL: 'info',
      DATABASE_URL: url.toString(),
      JWT_ISSUER: 'http://tessera.test',
      AUTH_CLIENTS_JSON: clientsJson(),
      KEY_ENCRYPTION_KEY: Buffer.alloc(32, 9).toString('base64'),
      UPSTREAM_URL: model.url,
      AUTH_POLICY_FILE: policyFile(standardPolicy()),
    });
    token = await tokenFor(server.url, CLIENTS.operator);
  }, 90_000);

  afterAll(async () => {
    await server?.stop();
    model?.server.close();
    if (database) await dropDatabase(database);
  });

  const call = (requestId: string, name: string, signal?: AbortSignal) =>
    fetch(`${server.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { ...bearer(token), 'content-type': 'application/json', 'x-request-id': requestId },
      body: JSON.stringify({
        model: name,
        stream: true,
        messages: [{ role: 'user', content: PROMPT }],
      }),
      signal,
    });

  const linesOf = async (requestId: string): Promise<LogLine[]> => {
    const deadline = Date.now() + 3000; // lines are written within 250 ms
    for (;;) {
      const lines = server
        .output()
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as LogLine)
        .filter((l) => l.req?.id === requestId && l.route !== undefined);
      if (lines.length || Date.now() > deadline) return lines;
      await new Promise((r) => setTimeout(r, 50));
    }
  };

  it('logs and counts a stream the client went away from, with the status it was sent', async () => {
    const abort = new AbortController();
    const response = await call('cut-by-client', 'slow-stream', abort.signal);
    expect(response.status).toBe(200);
    const reader = response.body!.getReader();
    await reader.read(); // the first chunk
    abort.abort();
    await reader.read().catch(() => undefined);
    expect(await linesOf('cut-by-client')).toEqual([
      expect.objectContaining({
        msg: 'request aborted',
        route: '/v1/chat/completions',
        status: 200,
        aborted: true,
        subject: CLIENTS.operator.id,
        client: CLIENTS.operator.id,
        responseTime: expect.any(Number),
      }),
    ]);
  });

  it('logs and counts a client gone before the upstream answered as 499', async () => {
    const abort = new AbortController();
    const pending = call('gone-early', 'slow-headers', abort.signal).catch((e: Error) => e.name);
    await new Promise((r) => setTimeout(r, 300));
    abort.abort();
    expect(await pending).toBe('AbortError');
    expect(await linesOf('gone-early')).toEqual([
      expect.objectContaining({
        msg: 'request aborted',
        status: 499,
        aborted: true,
        subject: CLIENTS.operator.id,
      }),
    ]);
  });

  it('logs and counts a stream its upstream broke off', async () => {
    const response = await call('cut-by-upstream', 'breaks');
    expect(response.status).toBe(200);
    await response.text().catch(() => '');
    expect(await linesOf('cut-by-upstream')).toEqual([
      expect.objectContaining({ msg: 'request aborted', status: 200, aborted: true }),
    ]);
  });

  it('logs a stream that ends as it should once, as completed', async () => {
    const response = await call('whole', 'fast');
    expect(await response.text()).toContain('[DONE]');
    const lines = await linesOf('whole');
    expect(lines).toEqual([expect.objectContaining({ msg: 'request completed', status: 200 })]);
    expect(lines[0].aborted).toBeUndefined();
  });

  it('counts each of them in the request metric, and logs no prompt or credential', async () => {
    const admin = await tokenFor(server.url, CLIENTS.admin);
    const metrics = await (await fetch(`${server.url}/metrics`, { headers: bearer(admin) })).text();
    const count = (status: number) =>
      Number(
        metrics.match(
          new RegExp(
            `tessera_http_request_duration_seconds_count\\{method="POST",route="/v1/chat/completions",status="${status}"\\} (\\d+)`,
          ),
        )?.[1] ?? 0,
      );
    expect(count(200)).toBe(3); // cut by the client, cut by the upstream, whole
    expect(count(499)).toBe(1);
    expect(server.output()).not.toContain(PROMPT);
    expect(server.output()).not.toContain(token);
    expect(server.output()).not.toContain('word1');
  });
});
