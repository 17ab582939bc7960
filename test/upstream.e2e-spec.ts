import { createServer, IncomingMessage, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { freePort } from '../src/database/embedded-postgres';
import { bearer, CLIENTS, tokenFor } from './support/factories';
import { startTestApp, TestApp } from './support/app';

const UPSTREAM_KEY = 'sk-upstream-test-key';

async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  let raw = '';
  for await (const chunk of req) raw += chunk;
  return raw ? JSON.parse(raw) : {};
}

/** A stand-in OpenAI-compatible server, served by the test itself on a local port. */
function fakeUpstream(
  seen: Array<{ path?: string; authorization?: string; body: Record<string, unknown> }>,
): Promise<Server> {
  const server = createServer(async (req, res) => {
    const body = await readJson(req);
    seen.push({ path: req.url, authorization: req.headers.authorization, body });
    if (req.url === '/v1/models') {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(
        JSON.stringify({ object: 'list', data: [{ id: 'upstream-model', object: 'model' }] }),
      );
      return;
    }
    if (body.stream) {
      res.writeHead(200, { 'Content-Type': 'text/event-stream' });
      res.write(`data: ${JSON.stringify({ choices: [{ delta: { content: 'Hel' } }] })}\n\n`);
      setTimeout(() => {
        res.write(`data: ${JSON.stringify({ choices: [{ delta: { content: 'lo' } }] })}\n\n`);
        res.end('data: [DONE]\n\n');
      }, 20);
      return;
    }
    if (String(body.model).startsWith('missing')) {
      res.writeHead(404, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ error: { message: 'model not found' } }));
      return;
    }
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end(
      JSON.stringify({
        object: 'chat.completion',
        model: body.model,
        choices: [{ message: { role: 'assistant', content: 'from upstream' } }],
      }),
    );
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

describe('UPSTREAM_URL: /v1/* proxied to an OpenAI-compatible server', () => {
  const seen: Array<{ path?: string; authorization?: string; body: Record<string, unknown> }> = [];
  let upstream: Server;
  let sut: TestApp;
  let token: string;

  beforeAll(async () => {
    upstream = await fakeUpstream(seen);
    const { port } = upstream.address() as AddressInfo;
    sut = await startTestApp({
      env: { UPSTREAM_URL: `http://127.0.0.1:${port}/`, UPSTREAM_API_KEY: UPSTREAM_KEY },
    });
    token = await tokenFor(sut.url, CLIENTS.operator);
  });

  afterAll(async () => {
    await sut.close();
    await new Promise((r) => upstream.close(r));
  });

  it('forwards chat completions as sent, with the upstream key instead of the caller’s token', async () => {
    const response = await sut
      .http()
      .post('/v1/chat/completions')
      .set(bearer(token))
      .send({ model: 'gpt-x', temperature: 0.2, messages: [{ role: 'user', content: 'hi' }] });
    expect(response.status).toBe(200);
    expect(response.body.choices[0].message.content).toBe('from upstream');
    const call = seen.find((s) => s.path === '/v1/chat/completions');
    expect(call?.authorization).toBe(`Bearer ${UPSTREAM_KEY}`);
    expect(call?.body).toMatchObject({ model: 'gpt-x', temperature: 0.2 });
  });

  it('passes an SSE stream through', async () => {
    const response = await sut
      .http()
      .post('/v1/chat/completions')
      .set(bearer(token))
      .send({ model: 'gpt-x', stream: true, messages: [{ role: 'user', content: 'hi' }] });
    expect(response.status).toBe(200);
    expect(response.headers['content-type']).toContain('text/event-stream');
    expect(response.text).toContain('"Hel"');
    expect(response.text.trim().endsWith('data: [DONE]')).toBe(true);
  });

  it('passes the upstream status through', async () => {
    const response = await sut
      .http()
      .post('/v1/chat/completions')
      .set(bearer(token))
      .send({ model: 'missing', messages: [{ role: 'user', content: 'hi' }] });
    expect(response.status).toBe(404);
  });

  it('times each upstream call by upstream, model and outcome (/metrics)', async () => {
    const admin = await tokenFor(sut.url, CLIENTS.admin);
    const metrics = (await sut.http().get('/metrics').set(bearer(admin))).text;
    // The calls above: gpt-x twice (JSON and SSE), 200; missing once, the upstream's 404 — a
    // name the upstream refused is not a label value of its own.
    expect(metrics).toContain(
      'tessera_gateway_upstream_seconds_count{upstream="default",model="gpt-x",outcome="200"} 2',
    );
    expect(metrics).toContain(
      'tessera_gateway_upstream_seconds_count{upstream="default",model="<other>",outcome="404"} 1',
    );
    expect(metrics).not.toContain('model="missing"');
  });

  it('adds no metric series for model names a caller invents and the upstream refuses', async () => {
    const admin = await tokenFor(sut.url, CLIENTS.admin);
    const invent = async () => {
      const model = `missing-${Math.random().toString(36).slice(2)}`;
      const response = await sut
        .http()
        .post('/v1/chat/completions')
        .set(bearer(token))
        .send({ model, messages: [{ role: 'user', content: 'hi' }] });
      expect(response.status).toBe(404);
    };
    const gatewaySeries = async () =>
      (await sut.http().get('/metrics').set(bearer(admin))).text
        .split('\n')
        .filter((l) => l.startsWith('tessera_gateway_'));
    await invent();
    const before = await gatewaySeries();
    for (let i = 0; i < 40; i++) await invent();
    const after = await gatewaySeries();
    expect(after.length).toBe(before.length);
    expect(after.join('\n')).not.toContain('model="missing-');
    expect(after).toContain(
      'tessera_gateway_upstream_seconds_count{upstream="default",model="<other>",outcome="404"} 42',
    );
  });

  it('lists the upstream models', async () => {
    const response = await sut.http().get('/v1/models').set(bearer(token));
    expect(response.body.data[0].id).toBe('upstream-model');
  });

  it('still guards the proxied routes', async () => {
    const response = await sut.http().get('/v1/models');
    expect(response.status).toBe(401);
    expect(seen.every((s) => s.authorization === `Bearer ${UPSTREAM_KEY}`)).toBe(true);
  });

  it('answers 502 when the upstream cannot be reached', async () => {
    const port = await freePort();
    const other = await startTestApp({ env: { UPSTREAM_URL: `http://127.0.0.1:${port}` } });
    try {
      const t = await tokenFor(other.url, CLIENTS.operator);
      const response = await other.http().get('/v1/models').set(bearer(t));
      expect(response.status).toBe(502);
      expect(response.body).toMatchObject({
        code: 'bad_gateway',
        detail: 'The upstream model server could not be reached',
      });
    } finally {
      await other.close();
    }
  });
});
