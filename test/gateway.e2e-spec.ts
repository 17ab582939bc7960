import OpenAI from 'openai';
import { startTestApp, TestApp } from './support/app';
import { bearer, CLIENTS, tokenFor } from './support/factories';
import { FakeOpenAi, startFakeOpenAi } from './support/fake-openai';
import { policyFile, standardPolicy } from './support/policy';

const QWEN_KEY = 'sk-qwen-upstream-0123456789';

function sdk(app: TestApp, apiKey: string): OpenAI {
  return new OpenAI({ apiKey, baseURL: `${app.url}/v1`, maxRetries: 0, timeout: 10_000 });
}

describe('Gateway: several upstreams behind the OpenAI surface, with the official openai client', () => {
  let a: FakeOpenAi;
  let b: FakeOpenAi;
  let sut: TestApp;
  let operator: string;
  let admin: string;

  beforeAll(async () => {
    a = await startFakeOpenAi({
      name: 'a',
      models: [
        'llama-3-8b',
        'llama-3-8b-slow',
        'llama-3-8b-fail',
        'llama-3-8b-nousage',
        'llama-3-8b-break',
      ],
      slowMs: 3000,
    });
    b = await startFakeOpenAi({ name: 'b', models: ['qwen-2', 'llama-3-8b'] });
    const policy = policyFile(
      standardPolicy() +
        `gateway:
  upstreams:
    - name: a
      url: ${a.url}/
      models: ["llama-*"]
      timeout: 2s
    - name: b
      url: ${b.url}
      api_key_env: QWEN_KEY
      models: ["qwen-*"]
  prices:
    "llama-*": { input: 1.0, output: 2.0 }
`,
    );
    sut = await startTestApp({ env: { AUTH_POLICY_FILE: policy, QWEN_KEY } });
    operator = await tokenFor(sut.url, CLIENTS.operator);
    admin = await tokenFor(sut.url, CLIENTS.admin);
  });

  afterAll(async () => {
    await sut?.close();
    await a?.close();
    await b?.close();
  });

  it('forwards a chat completion to the upstream serving the model, with its key and the caller’s identity, never the caller’s token', async () => {
    const answer = await sdk(sut, operator).chat.completions.create({
      model: 'llama-3-8b',
      messages: [{ role: 'user', content: 'hello there' }],
      temperature: 0.1,
    });
    expect(answer.choices[0].message.content).toBe('one two three four five');
    expect(answer.usage).toMatchObject({ prompt_tokens: 2, completion_tokens: 5 });
    const call = a.seen.filter((s) => s.path === '/v1/chat/completions').pop();
    expect(call?.body).toMatchObject({ model: 'llama-3-8b', temperature: 0.1 });
    expect(call?.headers.authorization).toBeUndefined();
    expect(call?.headers['x-tessera-subject']).toBe(CLIENTS.operator.id);
    expect(call?.headers['x-tessera-client-id']).toBe(CLIENTS.operator.id);
    expect(call?.headers['x-request-id']).toBeTruthy();
    expect(JSON.stringify(call?.headers)).not.toContain(operator);

    await sdk(sut, operator).chat.completions.create({
      model: 'qwen-2',
      messages: [{ role: 'user', content: 'hi' }],
    });
    const routed = b.seen.filter((s) => s.path === '/v1/chat/completions').pop();
    expect(routed?.body.model).toBe('qwen-2');
    expect(routed?.headers.authorization).toBe(`Bearer ${QWEN_KEY}`);
  });

  it('streams chunk by chunk, counting tokens from the usage chunk it asked for and hiding it from a client that did not', async () => {
    const stream = await sdk(sut, operator).chat.completions.create({
      model: 'llama-3-8b',
      messages: [{ role: 'user', content: 'stream please' }],
      stream: true,
    });
    let text = '';
    let chunks = 0;
    for await (const chunk of stream) {
      chunks++;
      expect(chunk.choices.length).toBe(1);
      text += chunk.choices[0].delta.content ?? '';
    }
    expect(text).toBe('one two three four five');
    expect(chunks).toBe(5);
    const call = a.seen.filter((s) => s.path === '/v1/chat/completions').pop();
    expect(call?.body.stream_options).toEqual({ include_usage: true });

    const withUsage = await sdk(sut, operator).chat.completions.create({
      model: 'llama-3-8b',
      messages: [{ role: 'user', content: 'stream please' }],
      stream: true,
      stream_options: { include_usage: true },
    });
    let usage: unknown;
    for await (const chunk of withUsage) if (chunk.usage) usage = chunk.usage;
    expect(usage).toMatchObject({ prompt_tokens: 2, completion_tokens: 5 });
  });

  it('lists the models of every upstream, each where its requests go', async () => {
    const page = await sdk(sut, operator).models.list();
    const models = page.data.map((m) => `${m.id}@${m.owned_by}`).sort();
    expect(models).toEqual([
      'llama-3-8b-break@a',
      'llama-3-8b-fail@a',
      'llama-3-8b-nousage@a',
      'llama-3-8b-slow@a',
      'llama-3-8b@a',
      'qwen-2@b',
    ]);
    const one = await sdk(sut, operator).models.retrieve('qwen-2');
    expect(one.id).toBe('qwen-2');
  });

  it('passes /v1/completions, /v1/embeddings and /v1/responses through', async () => {
    const client = sdk(sut, operator);
    const completion = await client.completions.create({ model: 'llama-3-8b', prompt: 'say it' });
    expect(completion.choices[0].text).toBe('one two three four five');
    const embedding = await client.embeddings.create({ model: 'qwen-2', input: 'x y z' });
    expect(embedding.data[0].embedding).toEqual([0.5, 0.25]);
    expect(embedding.usage.prompt_tokens).toBe(3);
    const response = await client.responses.create({ model: 'llama-3-8b', input: 'a b' });
    expect(response.usage).toMatchObject({ input_tokens: 2, output_tokens: 5 });
    expect(b.seen.some((s) => s.path === '/v1/embeddings')).toBe(true);
    expect(a.seen.some((s) => s.path === '/v1/responses')).toBe(true);
  });

  it('shows readable error messages in the SDK, with OpenAI’s error object beside problem+json', async () => {
    const client = sdk(sut, operator);
    await expect(
      client.chat.completions.create({
        model: 'gpt-9',
        messages: [{ role: 'user', content: 'x' }],
      }),
    ).rejects.toMatchObject({
      status: 404,
      code: 'model_not_found',
      message: expect.stringContaining('The model "gpt-9" does not exist'),
    });
    await expect(
      sdk(sut, 'not-a-valid-token').chat.completions.create({
        model: 'llama-3-8b',
        messages: [{ role: 'user', content: 'x' }],
      }),
    ).rejects.toMatchObject({ status: 401, type: 'authentication_error' });

    const raw = await sut.http().post('/v1/chat/completions').set(bearer(operator)).send({
      model: 'gpt-9',
      messages: [],
    });
    expect(raw.status).toBe(400);
    expect(raw.body).toMatchObject({
      error: {
        message: 'messages must contain at least one message',
        type: 'invalid_request_error',
        param: 'messages',
        code: 'validation_failed',
      },
      detail: 'messages must contain at least one message',
      code: 'validation_failed',
      status: 400,
    });
  });

  it.each([
    [{ messages: [{ role: 'user', content: 'x' }] }, 'model'],
    [{ model: 'llama-3-8b', messages: 'hello' }, 'messages'],
    [
      { model: 'llama-3-8b', messages: [{ role: 'user', content: 'x' }], max_tokens: -5 },
      'max_tokens',
    ],
    [{ model: 'llama-3-8b', messages: [{ role: 'user', content: 'x' }], stream: 'yes' }, 'stream'],
    [{ model: 'llama-3-8b', messages: [{ role: 'wizard', content: 'x' }] }, 'messages[0].role'],
  ])('answers bad input %j with 400 naming param %s', async (body, param) => {
    const response = await sut.http().post('/v1/chat/completions').set(bearer(operator)).send(body);
    expect(response.status).toBe(400);
    expect(response.body.error.param).toBe(param);
    expect(response.body.error.message).toBe(response.body.detail);
  });

  it('passes an upstream failure through, answers 504 when it is too slow', async () => {
    const client = sdk(sut, operator);
    await expect(
      client.chat.completions.create({
        model: 'llama-3-8b-fail',
        messages: [{ role: 'user', content: 'x' }],
      }),
    ).rejects.toMatchObject({ status: 500, message: expect.stringContaining('upstream exploded') });
    const slow = await sut
      .http()
      .post('/v1/chat/completions')
      .set(bearer(operator))
      .send({ model: 'llama-3-8b-slow', messages: [{ role: 'user', content: 'x' }] });
    expect(slow.status).toBe(504);
    expect(slow.body.error).toMatchObject({
      message: 'The upstream model server did not answer within 2 s',
      type: 'server_error',
      code: 'gateway_timeout',
    });
  });

  it('aborts the upstream call when the client disconnects', async () => {
    const before = a.aborted.length;
    const abort = new AbortController();
    const pending = fetch(`${sut.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { ...bearer(operator), 'content-type': 'application/json' },
      body: JSON.stringify({
        model: 'llama-3-8b-slow',
        messages: [{ role: 'user', content: 'x' }],
      }),
      signal: abort.signal,
    }).then(
      () => 'answered',
      (error: Error) => error.name,
    );
    await new Promise((r) => setTimeout(r, 300));
    abort.abort();
    expect(await pending).toBe('AbortError');
    const deadline = Date.now() + 1500; // well before the upstream's 3 s answer
    while (a.aborted.length === before && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 20));
    expect(a.aborted.slice(before)).toEqual(['llama-3-8b-slow']);
  });

  it('cuts the answer off when the upstream breaks off mid-stream, and keeps serving', async () => {
    const response = await fetch(`${sut.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { ...bearer(operator), 'content-type': 'application/json' },
      body: JSON.stringify({
        model: 'llama-3-8b-break',
        stream: true,
        messages: [{ role: 'user', content: 'x' }],
      }),
    });
    expect(response.status).toBe(200);
    // The caller gets the chunks sent before the break and then an ended (or reset) stream,
    // never a [DONE] that the upstream did not send.
    const text = await response.text().catch(() => '');
    expect(text).not.toContain('[DONE]');
    const next = await fetch(`${sut.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { ...bearer(operator), 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'llama-3-8b', messages: [{ role: 'user', content: 'x' }] }),
    });
    expect(next.status).toBe(200);
  });

  it('writes every answered call to the ledger: tokens from usage, estimated without it, priced by the policy', async () => {
    const client = sdk(sut, admin);
    for (let i = 0; i < 2; i++)
      await client.chat.completions.create({
        model: 'llama-3-8b',
        messages: [{ role: 'user', content: 'a b c' }],
      });
    const stream = await client.chat.completions.create({
      model: 'llama-3-8b',
      messages: [{ role: 'user', content: 'a b c' }],
      stream: true,
    });
    for await (const chunk of stream) void chunk;
    // 20 characters of prompt, 23 of reply: estimated at 4 characters a token.
    await client.chat.completions.create({
      model: 'llama-3-8b-nousage',
      messages: [{ role: 'user', content: 'twenty characters!!!' }],
    });

    const byModel = await sut
      .http()
      .get('/admin/usage')
      .query({ subject: CLIENTS.admin.id, group_by: 'model' })
      .set(bearer(admin));
    expect(byModel.status).toBe(200);
    expect(byModel.body).toEqual({
      group_by: 'model',
      rows: [
        {
          key: 'llama-3-8b',
          requests: 3,
          prompt_tokens: 9,
          completion_tokens: 15,
          total_tokens: 24,
          cost_usd: 0.000039,
        },
        {
          key: 'llama-3-8b-nousage',
          requests: 1,
          prompt_tokens: 5,
          completion_tokens: 6,
          total_tokens: 11,
          cost_usd: 0.000017,
        },
      ],
      totals: {
        requests: 4,
        prompt_tokens: 14,
        completion_tokens: 21,
        total_tokens: 35,
        cost_usd: 0.000056,
      },
    });
    const today = new Date().toISOString().slice(0, 10);
    const byDay = await sut
      .http()
      .get('/admin/usage')
      .query({ client_id: CLIENTS.admin.id, since: today, until: today })
      .set(bearer(admin));
    expect(byDay.body.group_by).toBe('day');
    expect(byDay.body.rows).toEqual([{ key: today, ...byModel.body.totals }]);

    const mine = await sut.http().get('/v1/usage').set(bearer(admin));
    expect(mine.body.models.map((m: { model: string }) => m.model)).toEqual([
      'llama-3-8b',
      'llama-3-8b-nousage',
    ]);
    expect(mine.body.totals).toEqual(byModel.body.totals);
    expect(mine.body.total_requests).toBe(4);
  });

  it('guards /admin/usage with usage:read and validates its query', async () => {
    const denied = await sut.http().get('/admin/usage').set(bearer(operator));
    expect(denied.status).toBe(403);
    const bad = await sut
      .http()
      .get('/admin/usage')
      .query({ group_by: 'week', since: '2026-02-30' })
      .set(bearer(admin));
    expect(bad.status).toBe(400);
    expect(bad.body.detail).toBe('group_by must be day, model or subject');
    const badDay = await sut
      .http()
      .get('/admin/usage')
      .query({ since: '2026-02-30' })
      .set(bearer(admin));
    expect(badDay.body.detail).toBe('since must be a real day such as 2026-11-01');
    // A typo is refused, not dropped (it would widen the report).
    const typo = await sut
      .http()
      .get('/admin/usage')
      .query({ client: 'gw', group_by: 'day' })
      .set(bearer(admin));
    expect(typo.status).toBe(400);
    expect(typo.body.detail).toMatch(/^unknown query parameter "client" \(this endpoint takes /);
  });
});

describe('The echo model (no upstream): honest word counts', () => {
  let sut: TestApp;
  let token: string;

  beforeAll(async () => {
    sut = await startTestApp();
    token = await tokenFor(sut.url, CLIENTS.operator);
  });

  afterAll(() => sut?.close());

  it('counts the words of the messages and of the reply', async () => {
    const client = sdk(sut, token);
    const answer = await client.chat.completions.create({
      model: 'tessera-echo',
      messages: [
        { role: 'system', content: 'be brief' },
        { role: 'user', content: 'hello big   world' },
      ],
    });
    expect(answer.choices[0].message.content).toBe('hello big   world');
    expect(answer.usage).toEqual({ prompt_tokens: 5, completion_tokens: 3, total_tokens: 8 });

    const stream = await client.chat.completions.create({
      model: 'tessera-echo',
      messages: [{ role: 'user', content: 'one two' }],
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = '';
    let usage: unknown;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? '';
      if (chunk.usage) usage = chunk.usage;
    }
    expect(text).toBe('one two');
    expect(usage).toEqual({ prompt_tokens: 2, completion_tokens: 2, total_tokens: 4 });

    const embedding = await client.embeddings.create({ model: 'tessera-echo', input: 'a b c' });
    expect(embedding.data[0].embedding).toHaveLength(8);
    expect(embedding.usage.prompt_tokens).toBe(3);

    const models = await client.models.list();
    expect(models.data.map((m) => m.id)).toEqual(['tessera-echo']);

    const usageReport = await sut.http().get('/v1/usage').set(bearer(token));
    expect(usageReport.body.models).toEqual([
      {
        model: 'tessera-echo',
        requests: 3,
        prompt_tokens: 10,
        completion_tokens: 5,
        total_tokens: 15,
        cost_usd: 0,
      },
    ]);
  });
});
