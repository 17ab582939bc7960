import { request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import { gzipSync } from 'node:zlib';
import { startTestApp, TestApp } from './support/app';
import { bearer, CLIENTS, tokenFor } from './support/factories';

interface Response {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  body: any;
}

/** A request with its bytes as given (supertest re-encodes a Buffer as JSON). */
function send(
  url: string,
  path: string,
  headers: Record<string, string | string[]>,
  body?: Buffer | string,
): Promise<Response> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${url}${path}`, { method: 'POST', headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString();
        let parsed: unknown;
        try {
          parsed = JSON.parse(text);
        } catch {
          parsed = undefined;
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, body: parsed });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

/**
 * Hostile input at the HTTP edge, over real HTTP: each refusal is a 4xx naming the problem, in
 * its surface's shape (RFC 6749 on the OAuth endpoints, problem+json elsewhere, with OpenAI's
 * `error` object under /v1/*), never a 500 and never a stack trace.
 */
describe('hostile input at the edge', () => {
  let sut: TestApp;
  let operator: string;

  beforeAll(async () => {
    sut = await startTestApp();
    operator = await tokenFor(sut.url, CLIENTS.operator);
  });

  afterAll(async () => {
    await sut?.close();
  });

  /** An RFC 6749 §5.2 answer: JSON `{error, error_description}`, never cached. */
  const post = (path: string, headers: Record<string, string | string[]>, body?: Buffer | string) =>
    send(sut.url, path, headers, body);
  const JSON_TYPE = { 'Content-Type': 'application/json' };
  const FORM_TYPE = { 'Content-Type': 'application/x-www-form-urlencoded' };
  const basic = (client: { id: string; secret: string }) =>
    `Basic ${Buffer.from(`${client.id}:${client.secret}`).toString('base64')}`;

  function expectOAuthError(response: Response, status: number, error: string, detail: RegExp) {
    expect({ status: response.status, body: response.body }).toMatchObject({
      status,
      body: { error },
    });
    expect(response.body.error_description).toMatch(detail);
    expect(Object.keys(response.body).sort()).toEqual(['error', 'error_description']);
    expect(response.headers['content-type']).toMatch(/^application\/json/);
    expect(response.headers['cache-control']).toBe('no-store');
  }

  function expectProblem(response: Response, status: number, detail: RegExp) {
    expect(response.status).toBe(status);
    expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(response.body.detail).toMatch(detail);
    expect(response.text).not.toMatch(/at .*\.[jt]s:\d+/);
  }

  describe('bytes that are not UTF-8', () => {
    const notUtf8 = Buffer.concat([
      Buffer.from('{"prompt":"'),
      Buffer.from([0xff, 0xfe]),
      Buffer.from('"}'),
    ]);

    it('refuses a JSON body with invalid UTF-8 on /v1/* as a 400 problem with the OpenAI error', async () => {
      const infer = await post('/v1/infer', { ...bearer(operator), ...JSON_TYPE }, notUtf8);
      expectProblem(infer, 400, /^Request body is not valid UTF-8$/);
      expect(infer.body.error).toMatchObject({ type: 'invalid_request_error' });
      const chat = await post(
        '/v1/chat/completions',
        { ...bearer(operator), ...JSON_TYPE },
        Buffer.concat([
          Buffer.from('{"model":"tessera-echo","messages":[{"role":"user","content":"'),
          Buffer.from([0xc3, 0x28]),
          Buffer.from('"}]}'),
        ]),
      );
      expectProblem(chat, 400, /not valid UTF-8/);
    });

    it('refuses invalid UTF-8 at the OAuth endpoints as invalid_request (JSON, form, percent-encoded)', async () => {
      const json = Buffer.concat([
        Buffer.from(`{"client_id":"${CLIENTS.admin.id}","client_secret":"`),
        Buffer.from([0xff]),
        Buffer.from('"}'),
      ]);
      expectOAuthError(
        await post('/token', JSON_TYPE, json),
        400,
        'invalid_request',
        /^Request body is not valid UTF-8$/,
      );
      const form = Buffer.concat([
        Buffer.from(`grant_type=client_credentials&client_id=${CLIENTS.admin.id}&client_secret=`),
        Buffer.from([0xff]),
      ]);
      expectOAuthError(
        await post('/oauth/token', FORM_TYPE, form),
        400,
        'invalid_request',
        /not valid UTF-8/,
      );
      expectOAuthError(
        await post(
          '/oauth/token',
          FORM_TYPE,
          'grant_type=client_credentials&client_id=%ff&client_secret=x',
        ),
        400,
        'invalid_request',
        /^client_id: the percent-encoding is malformed or does not decode to valid UTF-8$/,
      );
      expectOAuthError(
        await post(
          '/oauth/introspect',
          { ...FORM_TYPE, Authorization: basic(CLIENTS.admin) },
          'token=%e2%82',
        ),
        400,
        'invalid_request',
        /^token: /,
      );
    });

    it('still takes valid UTF-8 and an encoded percent sign', async () => {
      const infer = await sut
        .http()
        .post('/v1/infer')
        .set(bearer(operator))
        .send({ prompt: 'héllo 😀' });
      expect(infer.status).toBe(200);
      expect(infer.body.prompt).toBe('héllo 😀');
      const token = await sut
        .http()
        .post('/oauth/token')
        .type('form')
        .send(
          `grant_type=client_credentials&client_id=${CLIENTS.admin.id}` +
            `&client_secret=${encodeURIComponent(CLIENTS.admin.secret)}&x=%25ff`,
        );
      expect(token.status).toBe(200);
    });
  });

  describe('a credential header sent twice', () => {
    const infer = (headers: Record<string, string | string[]>) =>
      post('/v1/infer', { ...JSON_TYPE, ...headers }, '{"prompt":"x"}');

    it('refuses two Authorization headers in either order, and two API keys', async () => {
      for (const pair of [
        [`Bearer ${operator}`, 'Bearer garbage'],
        ['Bearer garbage', `Bearer ${operator}`],
      ]) {
        const response = await infer({ Authorization: pair });
        expectProblem(
          response,
          400,
          /^Send one Authorization header: the request has more than one$/,
        );
        expect(response.body.error).toMatchObject({ type: 'invalid_request_error' });
      }
      expectProblem(
        await infer({ 'X-API-Key': ['tsk_one', 'tsk_two'] }),
        400,
        /^Send one X-API-Key header/,
      );
      // One of each is still one credential per header (the API key is tried first).
      expect((await infer(bearer(operator))).status).toBe(200);
    });

    it('refuses two Basic headers at the OAuth endpoints as invalid_request', async () => {
      const form = 'grant_type=client_credentials';
      const twice = { ...FORM_TYPE, Authorization: [basic(CLIENTS.admin), basic(CLIENTS.viewer)] };
      expectOAuthError(
        await post('/oauth/token', twice, form),
        400,
        'invalid_request',
        /^Send one Authorization header/,
      );
      expectOAuthError(
        await post('/oauth/introspect', twice, 'token=x'),
        400,
        'invalid_request',
        /^Send one Authorization header/,
      );
      expect(
        (await post('/oauth/token', { ...FORM_TYPE, Authorization: basic(CLIENTS.admin) }, form))
          .status,
      ).toBe(200);
    });
  });

  describe('body-level refusals at the OAuth endpoints are RFC 6749 errors', () => {
    const ENDPOINTS = ['/oauth/token', '/token', '/oauth/revoke', '/oauth/introspect'];

    it('answers malformed JSON, an empty body, a prototype key as invalid_request naming it', async () => {
      for (const path of ENDPOINTS) {
        expectOAuthError(
          await post(path, JSON_TYPE, '{bad'),
          400,
          'invalid_request',
          /^Request body is not valid JSON$/,
        );
        expectOAuthError(await post(path, JSON_TYPE, ''), 400, 'invalid_request', /empty/);
      }
      expectOAuthError(
        await post('/token', JSON_TYPE, '{"__proto__":{"client_id":"x"}}'),
        400,
        'invalid_request',
        /^__proto__: the keys "__proto__" and "constructor.prototype" are not allowed$/,
      );
    });

    it('answers a body too large (413) and a type or coding it does not read (415) as invalid_request', async () => {
      for (const path of ENDPOINTS) {
        expectOAuthError(
          await post(path, FORM_TYPE, `token=${'a'.repeat(1_100_000)}`),
          413,
          'invalid_request',
          /^Request body is too large \(max 1 MB\)$/,
        );
        expectOAuthError(
          await post(
            path,
            { 'Content-Type': 'multipart/form-data; boundary=x' },
            '--x\r\nContent-Disposition: form-data; name="a"\r\n\r\nb\r\n--x--\r\n',
          ),
          415,
          'invalid_request',
          /^Content-Type multipart\/form-data is not supported: send application\/json or application\/x-www-form-urlencoded$/,
        );
      }
      expectOAuthError(
        await post(
          '/oauth/token',
          { 'Content-Type': 'text/plain' },
          'grant_type=client_credentials',
        ),
        415,
        'invalid_request',
        /^Content-Type text\/plain is not supported/,
      );
      expectOAuthError(
        await post(
          '/token',
          { ...JSON_TYPE, 'Content-Encoding': 'gzip' },
          gzipSync(JSON.stringify({ client_id: CLIENTS.admin.id, client_secret: 'x' })),
        ),
        415,
        'invalid_request',
        /^Content-Encoding gzip is not supported: send the body uncompressed$/,
      );
    });

    it('answers /oauth/introspect without credentials as invalid_client with a Basic challenge', async () => {
      const response = await post('/oauth/introspect', FORM_TYPE, 'token=x');
      expectOAuthError(response, 401, 'invalid_client', /^Client authentication is required$/);
      expect(response.headers['www-authenticate']).toBe('Basic realm="tessera"');
      const badBearer = await post(
        '/oauth/introspect',
        { ...FORM_TYPE, ...bearer('garbage') },
        'token=x',
      );
      expectOAuthError(badBearer, 401, 'invalid_token', /^Invalid authentication credentials$/);
      expect(badBearer.headers['www-authenticate']).toMatch(/^Bearer .*error="invalid_token"/);
      expectOAuthError(
        await post('/oauth/introspect', { ...FORM_TYPE, ...bearer(operator) }, 'token=x'),
        403,
        'insufficient_scope',
        /^Insufficient permissions$/,
      );
    });

    it('names the problem on the other surfaces too, in problem+json', async () => {
      const big = await post(
        '/v1/infer',
        { ...JSON_TYPE, ...bearer(operator) },
        `{"prompt":"${'a'.repeat(1_100_000)}"}`,
      );
      expectProblem(big, 413, /^Request body is too large \(max 1 MB\)$/);
      expect(big.body.code).toBe('payload_too_large');
      const text = await post(
        '/v1/infer',
        { 'Content-Type': 'text/plain', ...bearer(operator) },
        'hello',
      );
      expectProblem(text, 415, /^Content-Type text\/plain is not supported/);
      expect(text.body.code).toBe('unsupported_media_type');
      expectProblem(
        await post(
          '/v1/infer',
          { ...JSON_TYPE, ...bearer(operator) },
          '{"__proto__":{"prompt":"x"}}',
        ),
        400,
        /^__proto__: the keys/,
      );
      // A body-less POST labelled text/plain (as fetch labels a string body) still passes.
      expect(
        (await post('/v1/infer', { 'Content-Type': 'text/plain', ...bearer(operator) })).status,
      ).toBe(400);
    });
  });

  describe("refusals of Node's HTTP parser", () => {
    /** Bytes as written on a socket, and the whole answer until the server closes. */
    const raw = (text: string) =>
      new Promise<string>((resolve, reject) => {
        let answer = '';
        const socket = connect(Number(new URL(sut.url).port), '127.0.0.1');
        socket.on('data', (data: Buffer) => (answer += data.toString()));
        socket.on('end', () => resolve(answer));
        socket.on('error', (error: NodeJS.ErrnoException) =>
          error.code === 'ECONNRESET' ? resolve(answer) : reject(error),
        );
        socket.end(text);
      });

    const problemIn = (answer: string) => ({
      status: Number(answer.split(' ')[1]),
      type: /content-type: ([^\r]*)/i.exec(answer)?.[1],
      close: /connection: close/i.test(answer),
      detail: JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4)).detail as string,
    });

    it('names the problem in problem+json with Connection: close', async () => {
      const cases: Array<[string, number, string]> = [
        [
          `GET /v1/models HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer a\x01b\r\n\r\n`,
          400,
          'A request header value contains an invalid character (a control character)',
        ],
        [
          'POST /v1/infer HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
          400,
          'Transfer-Encoding and Content-Length together are not allowed',
        ],
        [
          'POST /v1/infer HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n',
          400,
          'Transfer-Encoding and Content-Length together are not allowed',
        ],
        [
          `GET /health HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(17 * 1024)}\r\n\r\n`,
          431,
          'The request headers are too large (max 16 KB)',
        ],
      ];
      for (const [text, status, detail] of cases) {
        expect(problemIn(await raw(text))).toEqual({
          status,
          type: 'application/problem+json',
          close: true,
          detail,
        });
      }
    });
  });

  it('refuses an unknown query parameter on every admin GET route, naming it', async () => {
    const admin = await tokenFor(sut.url, CLIENTS.admin);
    const paths = Object.entries(
      (await sut.http().get('/openapi.json')).body.paths as Record<string, Record<string, unknown>>,
    )
      .filter(([path, operations]) => path.startsWith('/admin/') && operations.get)
      .map(([path]) => path.replace(/\{[^}]+\}/g, 'some-id'));
    expect(paths).toEqual(
      expect.arrayContaining(['/admin/clients', '/admin/users', '/admin/roles/some-id']),
    );
    const answered: string[] = [];
    for (const path of paths) {
      const response = await sut.http().get(`${path}?x_unknown=1`).set(bearer(admin));
      answered.push(`${path} ${response.status} ${response.body.detail}`);
    }
    expect(answered).toEqual(
      paths.map((path) =>
        expect.stringMatching(new RegExp(`^${path} 400 unknown query parameter "x_unknown"`)),
      ),
    );
    expect((await sut.http().get('/admin/clients').set(bearer(admin))).status).toBe(200);
  });
});
