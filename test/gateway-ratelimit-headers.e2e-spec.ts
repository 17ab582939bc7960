import { startTestApp, TestApp } from './support/app';
import { bearer, CLIENTS, clientsJson, tokenFor } from './support/factories';
import { FakeIdp } from './support/fake-idp';
import { policyFile } from './support/policy';

/**
 * Request limits on the OpenAI surface: OpenAI's `x-ratelimit-*` headers on every `/v1/*`
 * answer once the caller is known (2xx and 4xx alike), from the one decision of the rate-limit
 * guard; a client's or API key's `rate_limit` on every route; a token's `rate_limit` claim
 * (Tessera's own tokens and a trusted issuer's).
 */
const LIMITED = {
  id: 'test-limited',
  secret: 'limited-secret-0123456789abcdef',
  roles: ['operator'],
};
const LLAMA_USER = {
  id: 'test-llama-user',
  secret: 'llama-user-secret-0123456789abcdef',
  roles: ['llama-user'],
};

const RESET = /^(\d+h)?(\d+m)?\d+s$|^\d+ms$/;

interface Answer {
  status: number;
  headers: Record<string, string>;
  body: { detail?: string; error?: { code?: string; param?: string | null; type?: string } };
}

function requestHeaders(answer: Answer) {
  return {
    limit: answer.headers['x-ratelimit-limit-requests'],
    remaining: answer.headers['x-ratelimit-remaining-requests'],
    reset: answer.headers['x-ratelimit-reset-requests'],
  };
}

describe('Gateway: x-ratelimit headers and request limits on every route', () => {
  let sut: TestApp;
  let idp: FakeIdp;

  beforeAll(async () => {
    idp = await new FakeIdp('/idp').start();
    const policy = policyFile(`auth:
  modes: [jwt, api_key]
  roles:
    - name: admin
      permissions: ["*"]
    - name: operator
      permissions: [invoke, view_metrics]
    - name: llama-user
      permissions: ["invoke:llama-*"]
  default_role: operator
  rate_limits:
    operator: "50/minute"
    llama-user: "50/minute"
  token_limits:
    operator: "100000/minute"
  trusted_issuers:
    - issuer: ${idp.issuer}
      jwks_url: ${idp.jwksUrl}
      audience: tessera-test
`);
    // LIMITED's own rate_limit comes from AUTH_CLIENTS_JSON, as an operator would declare it.
    const clients = JSON.parse(clientsJson([...Object.values(CLIENTS), LLAMA_USER])) as Record<
      string,
      unknown
    >;
    clients[LIMITED.id] = { secret: LIMITED.secret, roles: LIMITED.roles, rate_limit: '3/minute' };
    sut = await startTestApp({
      env: { AUTH_POLICY_FILE: policy, AUTH_CLIENTS_JSON: JSON.stringify(clients) },
    });
  });

  afterAll(async () => {
    await sut?.close();
    await idp?.stop();
  });

  it('sends x-ratelimit-*-requests on every /v1 answer, 2xx and 4xx, counting down by one', async () => {
    const token = await tokenFor(sut.url, CLIENTS.operator);
    const http = () => sut.http();
    const chat = (body: Record<string, unknown>) =>
      http().post('/v1/chat/completions').set(bearer(token)).send(body);
    const answers: Answer[] = [
      await http().get('/v1/models').set(bearer(token)),
      await http().get('/v1/usage').set(bearer(token)),
      await http().post('/v1/infer').set(bearer(token)).send({ prompt: 'hi' }),
      await http().post('/v1/infer').set(bearer(token)).send({}),
      await chat({ model: 'tessera-echo', messages: 'not a list' }),
      await chat({ model: 'no-such-model', messages: [{ role: 'user', content: 'a' }] }),
      await chat({ model: 'tessera-echo', messages: [{ role: 'user', content: 'a b c' }] }),
    ];
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 400, 400, 404, 200]);
    answers.forEach((answer, i) => {
      expect(requestHeaders(answer)).toEqual({
        limit: '50',
        remaining: String(49 - i),
        reset: expect.stringMatching(RESET),
      });
      // The IETF headers are the same decision.
      expect(answer.headers['ratelimit-remaining']).toBe(String(49 - i));
    });
    expect(answers[4].body.error?.param).toBe('messages');
    expect(answers[5].body.error?.code).toBe('model_not_found');
    // Where a token limit applies (a model call that reached the limiter): the token headers.
    const model = answers[6];
    expect(model.headers['x-ratelimit-limit-tokens']).toBe('100000');
    expect(Number(model.headers['x-ratelimit-remaining-tokens'])).toBeLessThan(100000);
    expect(model.headers['x-ratelimit-reset-tokens']).toMatch(RESET);
    expect(answers[0].headers['x-ratelimit-limit-tokens']).toBeUndefined();
    // A model call refused before the limiter (400, 404) still reports the tokens left, and
    // spends none: the bad request and the unknown model left the count where it was.
    for (const refused of [answers[4], answers[5]]) {
      expect(refused.headers['x-ratelimit-limit-tokens']).toBe('100000');
      expect(refused.headers['x-ratelimit-remaining-tokens']).toBe('100000');
      expect(refused.headers['x-ratelimit-reset-tokens']).toMatch(RESET);
    }
  });

  it('sends them on a 403 model_not_allowed, and none on a 401 (no caller known)', async () => {
    const token = await tokenFor(sut.url, LLAMA_USER);
    const refused = await sut
      .http()
      .post('/v1/chat/completions')
      .set(bearer(token))
      .send({ model: 'tessera-echo', messages: [{ role: 'user', content: 'a' }] });
    expect(refused.status).toBe(403);
    expect(refused.body.error.code).toBe('model_not_allowed');
    expect(requestHeaders(refused)).toEqual({
      limit: '50',
      remaining: '49',
      reset: expect.stringMatching(RESET),
    });

    const anonymous = await sut.http().get('/v1/models');
    expect(anonymous.status).toBe(401);
    expect(Object.keys(anonymous.headers).filter((h) => h.includes('ratelimit'))).toEqual([]);
  });

  it('reports the allowance on a 403 from the permission check, without spending it', async () => {
    const token = await tokenFor(sut.url, LLAMA_USER);
    // llama-user holds invoke:llama-*, not invoke, which /v1/infer needs.
    const refusals = [];
    for (let i = 0; i < 2; i++)
      refusals.push(await sut.http().post('/v1/infer').set(bearer(token)).send({ prompt: 'a' }));
    for (const refused of refusals) {
      expect(refused.status).toBe(403);
      expect(refused.body.error.code).toBe('insufficient_permissions');
    }
    // Both report the same remaining allowance: a refusal by the permission check spends none.
    expect(requestHeaders(refusals[0])).toEqual(requestHeaders(refusals[1]));
    expect(requestHeaders(refusals[1])).toEqual({
      limit: '50',
      remaining: expect.stringMatching(/^\d+$/),
      reset: expect.stringMatching(RESET),
    });
    const counted = await sut.http().get('/v1/models').set(bearer(token));
    expect(Number(requestHeaders(counted).remaining)).toBe(
      Number(requestHeaders(refusals[1]).remaining) - 1,
    );
  });

  it('applies a client’s rate_limit (from AUTH_CLIENTS_JSON) on every route, not only model calls', async () => {
    const admin = await tokenFor(sut.url, CLIENTS.admin);
    const declared = await sut.http().get(`/admin/clients/${LIMITED.id}`).set(bearer(admin));
    expect(declared.body).toMatchObject({ rate_limit: '3/minute', token_limit: null });
    const token = await tokenFor(sut.url, LIMITED);
    const metrics = await sut.http().get('/metrics').set(bearer(token));
    expect(metrics.status).toBe(200);
    // Outside /v1 the IETF headers only.
    expect(metrics.headers['ratelimit-limit']).toBe('3');
    expect(metrics.headers['x-ratelimit-limit-requests']).toBeUndefined();
    const usage = await sut.http().get('/v1/usage').set(bearer(token));
    expect(requestHeaders(usage)).toMatchObject({ limit: '3', remaining: '1' });
    expect((await sut.http().get('/v1/models').set(bearer(token))).status).toBe(200);
    const refused = await sut.http().get('/v1/usage').set(bearer(token));
    expect(refused.status).toBe(429);
    expect(refused.body.error).toMatchObject({
      type: 'rate_limit_error',
      code: 'rate_limit_exceeded',
    });
    expect(refused.body.detail).toBe(
      "Request limit reached: 3/minute (the client's or API key's rate_limit)",
    );
    expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
    expect(requestHeaders(refused)).toMatchObject({ limit: '3', remaining: '0' });
  });

  it('applies an API key’s rate_limit on every route', async () => {
    const admin = await tokenFor(sut.url, CLIENTS.admin);
    const created = await sut
      .http()
      .post('/admin/api-keys')
      .set(bearer(admin))
      .send({ name: 'two-a-minute', roles: ['operator'], rate_limit: '2/minute' });
    expect(created.status).toBe(201);
    const key = { 'X-API-Key': created.body.key as string };
    expect((await sut.http().get('/metrics').set(key)).status).toBe(200);
    const models = await sut.http().get('/v1/models').set(key);
    expect(requestHeaders(models)).toMatchObject({ limit: '2', remaining: '0' });
    const refused = await sut.http().get('/v1/models').set(key);
    expect(refused.status).toBe(429);
    expect(refused.body.error.code).toBe('rate_limit_exceeded');
    expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
  });

  it('caps a Tessera token by its rate_limit claim (POST /tokens, as jwt-auth-service issues)', async () => {
    const admin = await tokenFor(sut.url, CLIENTS.admin);
    const issue = async () => {
      const issued = await sut
        .http()
        .post('/tokens')
        .set(bearer(admin))
        .send({ user_id: 'agent-claim', rate_limit: 2 });
      expect(issued.status).toBe(201);
      return issued.body.token as string;
    };
    const token = await issue();
    const answers: Answer[] = [];
    for (let i = 0; i < 3; i++) answers.push(await sut.http().get('/v1/models').set(bearer(token)));
    expect(answers.map((a) => a.status)).toEqual([200, 200, 429]);
    expect(requestHeaders(answers[0])).toMatchObject({ limit: '2', remaining: '1' });
    expect(answers[2].body.error?.code).toBe('rate_limit_exceeded');
    expect(answers[2].body.detail).toBe(
      "Request limit reached: 2/minute (the token's rate_limit claim)",
    );
    expect(Number(answers[2].headers['retry-after'])).toBeGreaterThan(0);
    // Per token: another token of the same user has its own two requests.
    expect(
      (
        await sut
          .http()
          .get('/v1/models')
          .set(bearer(await issue()))
      ).status,
    ).toBe(200);
  });

  it('caps a trusted issuer’s token by its rate_limit claim', async () => {
    const token = await idp.sign(
      { sub: 'idp-user', aud: 'tessera-test', jti: 'idp-token-1', rate_limit: 3 },
      { expiresIn: '5m' },
    );
    const statuses: number[] = [];
    let last: Answer | undefined;
    for (let i = 0; i < 4; i++) {
      last = await sut.http().post('/v1/infer').set(bearer(token)).send({ prompt: 'hi' });
      statuses.push(last.status);
    }
    expect(statuses).toEqual([200, 200, 200, 429]);
    expect(last?.body.error).toMatchObject({ code: 'rate_limit_exceeded' });
    expect(Number(last?.headers['retry-after'])).toBeGreaterThan(0);
    expect(requestHeaders(last as Answer)).toMatchObject({ limit: '3', remaining: '0' });
  });
});
