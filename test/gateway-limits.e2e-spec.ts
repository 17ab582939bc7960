import { randomBytes } from 'node:crypto';
import OpenAI from 'openai';
import { startTestApp, TestApp } from './support/app';
import { bearer, CLIENTS, clientsJson, tokenFor } from './support/factories';
import { FakeOpenAi, startFakeOpenAi } from './support/fake-openai';
import { eventually } from './support/lifecycle';
import { policyFile } from './support/policy';
import { startTestRedis, TestRedis } from './support/redis';

const ROLES = `  roles:
    - name: admin
      permissions: ["*"]
    - name: operator
      permissions: [invoke, view_metrics]
    - name: llama-user
      permissions: ["invoke:llama-*"]
    - name: trial
      permissions: [invoke]
    - name: viewer
      permissions: [view_metrics]
  default_role: operator
`;

const LLAMA_USER = {
  id: 'test-llama-user',
  secret: 'llama-user-secret-0123456789abcdef',
  roles: ['llama-user'],
};
const TRIAL = { id: 'test-trial', secret: 'trial-secret-0123456789abcdef', roles: ['trial'] };

interface AuditEvent {
  outcome: string;
  actor?: string;
  target?: string;
  details: Record<string, unknown>;
}

/**
 * The audit events matching `query` once there are at least `count` (refusals are recorded after
 * the answer, not awaited by it: bounded polling).
 */
async function auditEvents(
  app: TestApp,
  admin: string,
  query: Record<string, string>,
  count = 1,
): Promise<AuditEvent[]> {
  let events: AuditEvent[] = [];
  await eventually(
    async () => {
      const page = await app.http().get('/admin/audit').query(query).set(bearer(admin));
      events = page.body.events as AuditEvent[];
      return events.length >= count;
    },
    { attempts: 100, intervalMs: 50 },
  );
  return events;
}

function sdk(app: TestApp, apiKey: string): OpenAI {
  return new OpenAI({ apiKey, baseURL: `${app.url}/v1`, maxRetries: 0, timeout: 10_000 });
}

const chat = (model: string): OpenAI.ChatCompletionCreateParamsNonStreaming => ({
  model,
  messages: [{ role: 'user', content: 'hello there' }],
});

describe('Gateway: per-model access and budgets', () => {
  let upstream: FakeOpenAi;
  let sut: TestApp;

  beforeAll(async () => {
    upstream = await startFakeOpenAi({ models: ['llama-3-8b', 'qwen-2'] });
    const policy = policyFile(`auth:
  modes: [jwt, api_key]
${ROLES}  budgets:
    trial: "0.00003/day"
gateway:
  upstreams:
    - name: fake
      url: ${upstream.url}
      models: ["*"]
  prices:
    "llama-*": { input: 1.0, output: 2.0 }
`);
    sut = await startTestApp({
      env: {
        AUTH_POLICY_FILE: policy,
        AUTH_CLIENTS_JSON: clientsJson([...Object.values(CLIENTS), LLAMA_USER, TRIAL]),
      },
    });
  });

  afterAll(async () => {
    await sut?.close();
    await upstream?.close();
  });

  it('refuses a model the role does not allow with 403 model_not_allowed, before forwarding, and records it', async () => {
    const token = await tokenFor(sut.url, LLAMA_USER);
    const client = sdk(sut, token);
    const ok = await client.chat.completions.create(chat('llama-3-8b'));
    expect(ok.choices[0].message.content).toBe('one two three four five');
    const before = upstream.seen.length;
    await expect(client.chat.completions.create(chat('qwen-2'))).rejects.toMatchObject({
      status: 403,
      code: 'model_not_allowed',
      type: 'permission_error',
      message: expect.stringContaining('You may not invoke the model "qwen-2"'),
    });
    expect(upstream.seen.length).toBe(before);
    const models = await client.models.list();
    expect(models.data.map((m) => m.id)).toEqual(['llama-3-8b']);

    const admin = await tokenFor(sut.url, CLIENTS.admin);
    const [denied] = await auditEvents(sut, admin, { action: 'model.access_denied' });
    expect(denied).toMatchObject({
      action: 'model.access_denied',
      outcome: 'failure',
      actor: LLAMA_USER.id,
      target: 'qwen-2',
    });
    // Counted as an authorization denial too, under one label value whatever the model (a
    // label per requested model name would let callers grow the series without bound).
    const metrics = await sut.http().get('/metrics').set(bearer(admin));
    expect(metrics.text).toContain(
      'tessera_authorization_denials_total{permission="invoke:<model>"} 1',
    );
  });

  it('narrows an API key and a client to their own models list', async () => {
    const admin = await tokenFor(sut.url, CLIENTS.admin);
    const created = await sut
      .http()
      .post('/admin/api-keys')
      .set(bearer(admin))
      .send({ name: 'qwen-only', roles: ['operator'], models: ['qwen-*'] });
    expect(created.status).toBe(201);
    const key = sdk(sut, created.body.key);
    expect((await key.chat.completions.create(chat('qwen-2'))).object).toBe('chat.completion');
    await expect(key.chat.completions.create(chat('llama-3-8b'))).rejects.toMatchObject({
      status: 403,
      code: 'model_not_allowed',
    });

    const client = await sut
      .http()
      .post('/admin/clients')
      .set(bearer(admin))
      .send({ id: 'llama-narrow', roles: ['operator'], models: ['llama-3-*'] });
    expect(client.status).toBe(201);
    expect(client.body.models).toEqual(['llama-3-*']);
    const token = await tokenFor(sut.url, {
      id: 'llama-narrow',
      secret: client.body.client_secret ?? client.body.secret,
      roles: [],
    });
    await expect(sdk(sut, token).chat.completions.create(chat('qwen-2'))).rejects.toMatchObject({
      status: 403,
    });

    const bad = await sut
      .http()
      .post('/admin/api-keys')
      .set(bearer(admin))
      .send({ name: 'bad', budget: 'lots' });
    expect(bad.status).toBe(400);
    expect(bad.body.detail).toBe(
      'budget must look like "5/month" (US dollars) (minute, hour, day or month)',
    );
  });

  it('answers 429 insufficient_quota with Retry-After once the budget is spent', async () => {
    const token = await tokenFor(sut.url, TRIAL);
    let answered = 0;
    let refusal:
      { status: number; headers: Record<string, string>; body: { error?: unknown } } | undefined;
    for (let i = 0; i < 10 && !refusal; i++) {
      const response = await sut
        .http()
        .post('/v1/chat/completions')
        .set(bearer(token))
        .send(chat('llama-3-8b'));
      if (response.status === 200) answered++;
      else refusal = response;
    }
    // Each call costs (2 × $1 + 5 × $2) / 1M = $0.000012: the third fits, the fourth is refused.
    expect(answered).toBe(3);
    expect(refusal?.status).toBe(429);
    expect(refusal?.body.error).toMatchObject({
      type: 'insufficient_quota',
      code: 'insufficient_quota',
    });
    expect(Number(refusal?.headers['retry-after'])).toBeGreaterThan(0);
    await expect(sdk(sut, token).chat.completions.create(chat('llama-3-8b'))).rejects.toMatchObject(
      {
        status: 429,
        code: 'insufficient_quota',
      },
    );
    const admin = await tokenFor(sut.url, CLIENTS.admin);
    const usage = await sut
      .http()
      .get('/admin/usage')
      .query({ subject: TRIAL.id, group_by: 'subject' })
      .set(bearer(admin));
    expect(usage.body.rows).toEqual([
      expect.objectContaining({ key: TRIAL.id, requests: 3, cost_usd: 0.000036 }),
    ]);
    // Recorded and counted as a budget's refusal (not as a request rate limit's).
    const refusals = await auditEvents(
      sut,
      admin,
      { action: 'budget.refused', actor: TRIAL.id },
      2,
    );
    expect(refusals).toHaveLength(2);
    expect(refusals[0]).toMatchObject({
      outcome: 'failure',
      target: '/v1/chat/completions',
      details: { limit: '0.00003/day', model: 'llama-3-8b', method: 'POST' },
    });
    const metrics = await sut.http().get('/metrics').set(bearer(admin));
    expect(metrics.text).toContain('tessera_limit_refusals_total{limit="budget"} 2');
    expect(metrics.text).not.toContain('tessera_limit_refusals_total{limit="rate"}');
  });
});

describe('Gateway: token limits shared by two replicas through Redis', () => {
  let redis: TestRedis;
  let first: TestApp;
  let second: TestApp;
  const prefix = `tessera-gw-test-${randomBytes(4).toString('hex')}:`;

  beforeAll(async () => {
    redis = await startTestRedis();
    const env = {
      AUTH_POLICY_FILE: policyFile(`auth:
  modes: [jwt, api_key]
${ROLES}  token_limits:
    operator: "30/hour"
  rate_limit_backend: redis
`),
      REDIS_URL: redis.url,
      REDIS_KEY_PREFIX: prefix,
      JWT_ISSUER: 'http://tessera.test',
    };
    first = await startTestApp({ env });
    second = await startTestApp({ env, database: first.database });
  });

  afterAll(async () => {
    await second?.close();
    await first?.close();
    await redis?.stop();
  });

  it('counts the echo model’s tokens on both replicas against one limit, with x-ratelimit headers', async () => {
    const token = await tokenFor(first.url, CLIENTS.operator);
    const call = (app: TestApp, extra: Record<string, unknown> = {}) =>
      app
        .http()
        .post('/v1/chat/completions')
        .set(bearer(token))
        .send({ model: 'tessera-echo', messages: [{ role: 'user', content: 'a b c' }], ...extra });

    // A request whose max_tokens the allowance cannot cover is refused before anything runs.
    const tooBig = await call(first, { max_tokens: 100 });
    expect(tooBig.status).toBe(429);
    expect(tooBig.body.error.code).toBe('rate_limit_exceeded');

    // "a b c" in, "a b c" out: 6 tokens a call, 30 an hour → five calls, alternating replicas.
    const statuses: number[] = [];
    let last: Awaited<ReturnType<typeof call>> | undefined;
    for (let i = 0; i < 7; i++) {
      last = await call(i % 2 ? second : first);
      statuses.push(last.status);
      if (i === 0) {
        expect(last.headers['x-ratelimit-limit-tokens']).toBe('30');
        expect(Number(last.headers['x-ratelimit-remaining-tokens'])).toBeLessThan(30);
        expect(last.headers['x-ratelimit-reset-tokens']).toMatch(/^(\d+h)?(\d+m)?\d+s$/);
      }
    }
    expect(statuses).toEqual([200, 200, 200, 200, 200, 429, 429]);
    expect(last?.body.error).toMatchObject({
      type: 'rate_limit_error',
      code: 'rate_limit_exceeded',
    });
    expect(last?.body.detail).toMatch(/^Token limit reached: 30\/hour/);
    expect(Number(last?.headers['retry-after'])).toBeGreaterThan(0);
    expect(last?.headers['x-ratelimit-remaining-tokens']).toBe('0');

    // Each refusal recorded as a token limit's, with its policy and model, where it happened.
    const admin = await tokenFor(first.url, CLIENTS.admin);
    // The too-big request and the refusals first answered (the other replica has the rest).
    const refusals = await auditEvents(
      first,
      admin,
      { action: 'token_limit.refused', actor: CLIENTS.operator.id },
      2,
    );
    expect(refusals[0]).toMatchObject({
      outcome: 'failure',
      details: { limit: '30/hour', model: 'tessera-echo', method: 'POST' },
    });
    const metrics = await first.http().get('/metrics').set(bearer(admin));
    expect(metrics.text).toMatch(/tessera_limit_refusals_total\{limit="token"\} [23]/);
    expect(metrics.text).not.toContain('tessera_limit_refusals_total{limit="rate"}');
  });
});
