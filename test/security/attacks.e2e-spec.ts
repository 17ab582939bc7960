import {
  createHmac,
  createSign,
  generateKeyPairSync,
  KeyObject,
  randomUUID,
  sign as cryptoSign,
} from 'node:crypto';
import { createServer, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Response } from 'supertest';
import { KeysService } from '../../src/keys/keys.service';
import { startTestApp, TestApp } from '../support/app';
import { bearer, CLIENTS, tokenFor } from '../support/factories';

/**
 * Named attack cases against the running app over real HTTP (SECURITY.md lists them with their
 * sources: RFC 8725, RFC 9068, the OWASP JWT cheat sheet, jwt_tool's modes, CVEs of
 * jsonwebtoken, fast-jwt and python-jose). Each asserts its exact status, and never a 5xx.
 */

const b64 = (value: unknown) =>
  Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');

/** A compact JWS from parts, with any header (jsonwebtoken refuses to write most attacks). */
function jws(
  header: Record<string, unknown>,
  payload: unknown,
  signature: (input: string) => string,
): string {
  const input = `${b64(header)}.${b64(payload)}`;
  return `${input}.${signature(input)}`;
}

const hmac = (key: Buffer | string) => (input: string) =>
  createHmac('sha256', key).update(input).digest('base64url');
const rs256 = (key: KeyObject) => (input: string) =>
  createSign('RSA-SHA256').update(input).sign(key).toString('base64url');
const unsigned = () => '';

function expectStatus(response: Response, status: number): void {
  expect(response.status).toBeLessThan(500);
  expect({ status: response.status, body: response.body }).toMatchObject({ status });
}

describe('security: attack cases against the running app (RS256)', () => {
  let sut: TestApp;
  let good: string;
  let admin: string;
  let privateKey: KeyObject;
  let publicKey: KeyObject;
  let kid: string;
  let parentToken: string;
  let refreshToken: string;
  let revokedToken: string;
  let outbound: Server;
  let outboundHits = 0;
  let outboundUrl: string;
  const attacker = generateKeyPairSync('rsa', { modulusLength: 2048 });

  const claims = (overrides: Record<string, unknown> = {}) => {
    const now = Math.floor(Date.now() / 1000);
    const all: Record<string, unknown> = {
      iss: sut.url,
      sub: 'attacker',
      aud: 'tessera',
      iat: now,
      nbf: now,
      exp: now + 600,
      jti: randomUUID(),
      client_id: 'attacker',
      scope: 'model:invoke',
      roles: ['operator'],
      token_type: 'access',
      ...overrides,
    };
    // An override of `undefined` removes the claim.
    return Object.fromEntries(Object.entries(all).filter(([, v]) => v !== undefined));
  };
  const header = (overrides: Record<string, unknown> = {}) =>
    Object.fromEntries(
      Object.entries({ alg: 'RS256', typ: 'at+jwt', kid, ...overrides }).filter(
        ([, v]) => v !== undefined,
      ),
    );
  /** Signed with the real key: only the named defect makes it invalid. */
  const real = (claimOverrides: Record<string, unknown> = {}, headerOverrides = {}) =>
    jws(header(headerOverrides), claims(claimOverrides), rs256(privateKey));
  const infer = (token: string) =>
    sut.http().post('/v1/infer').set(bearer(token)).send({ prompt: 'hi' });
  const withAuthorization = (value: string) =>
    sut.http().post('/v1/infer').set('Authorization', value).send({ prompt: 'hi' });
  const oauthToken = (form: Record<string, string>, basic?: [string, string]) => {
    const call = sut.http().post('/oauth/token').type('form');
    return (basic ? call.auth(basic[0], basic[1]) : call).send(form);
  };

  beforeAll(async () => {
    outbound = createServer((_req, res) => {
      outboundHits++;
      res.end('{"keys":[]}');
    });
    await new Promise<void>((resolve) => outbound.listen(0, '127.0.0.1', resolve));
    outboundUrl = `http://127.0.0.1:${(outbound.address() as AddressInfo).port}`;
    sut = await startTestApp();
    good = await tokenFor(sut.url, CLIENTS.operator);
    admin = await tokenFor(sut.url, CLIENTS.admin);
    const active = sut.app.get(KeysService).signingKey();
    privateKey = active.privateKey;
    publicKey = active.key;
    kid = active.kid;
    const pair = await sut
      .http()
      .post('/token-pairs')
      .set(bearer(admin))
      .send({ user_id: 'agent-1' });
    parentToken = pair.body.parent_token;
    await sut
      .http()
      .post('/admin/users')
      .set(bearer(admin))
      .send({ email: 'victim@example.com', password: 'a long enough password', name: 'V' });
    const login = await sut
      .http()
      .post('/auth/login')
      .send({ email: 'victim@example.com', password: 'a long enough password' });
    refreshToken = login.body.refresh_token;
    revokedToken = await tokenFor(sut.url, CLIENTS.operator);
    const jti = JSON.parse(Buffer.from(revokedToken.split('.')[1], 'base64url').toString()).jti;
    expect((await sut.http().post('/revoke').set(bearer(admin)).send({ jti })).status).toBeLessThan(
      300,
    );
  });

  afterAll(async () => {
    await sut?.close();
    outbound?.close();
  });

  it('sanity: the genuine token and a correctly forged one with the real key are accepted', async () => {
    expectStatus(await infer(good), 200);
    expectStatus(await infer(real()), 200);
  });

  const CASES: Array<[string, () => Promise<Response>, number]> = [
    // --- alg "none" in every spelling (RFC 8725 §2.1, CVE-2015-9235 jsonwebtoken, jwt_tool -X a)
    [
      'none: alg "none", no signature',
      () => infer(jws(header({ alg: 'none' }), claims(), unsigned)),
      401,
    ],
    ['none: alg "None"', () => infer(jws(header({ alg: 'None' }), claims(), unsigned)), 401],
    ['none: alg "NONE"', () => infer(jws(header({ alg: 'NONE' }), claims(), unsigned)), 401],
    ['none: alg "nOnE"', () => infer(jws(header({ alg: 'nOnE' }), claims(), unsigned)), 401],
    [
      'none: alg "none" keeping the genuine signature',
      () => infer(`${b64(header({ alg: 'none' }))}.${b64(claims())}.${good.split('.')[2]}`),
      401,
    ],
    ['none: alg "" (empty)', () => infer(jws(header({ alg: '' }), claims(), unsigned)), 401],
    ['none: alg missing', () => infer(jws(header({ alg: undefined }), claims(), unsigned)), 401],
    // --- algorithm confusion: HS256 "signed" with the public key (RFC 8725 §2.1, CVE-2016-10555, CVE-2022-29217 python-jose, CVE-2023-48223 fast-jwt, jwt_tool -X k)
    [
      'confusion: HS256 with the public key as SPKI PEM',
      () =>
        infer(
          jws(
            header({ alg: 'HS256' }),
            claims(),
            hmac(publicKey.export({ type: 'spki', format: 'pem' }) as string),
          ),
        ),
      401,
    ],
    [
      'confusion: HS256 with the public key as PKCS#1 PEM',
      () =>
        infer(
          jws(
            header({ alg: 'HS256' }),
            claims(),
            hmac(publicKey.export({ type: 'pkcs1', format: 'pem' }) as string),
          ),
        ),
      401,
    ],
    [
      'confusion: HS256 with the public key as SPKI DER',
      () =>
        infer(
          jws(
            header({ alg: 'HS256' }),
            claims(),
            hmac(publicKey.export({ type: 'spki', format: 'der' })),
          ),
        ),
      401,
    ],
    [
      'confusion: HS256 with the public key as JWK JSON',
      () =>
        infer(
          jws(
            header({ alg: 'HS256' }),
            claims(),
            hmac(JSON.stringify(publicKey.export({ format: 'jwk' }))),
          ),
        ),
      401,
    ],
    [
      'confusion: HS256 with the PEM without its final newline',
      () =>
        infer(
          jws(
            header({ alg: 'HS256' }),
            claims(),
            hmac((publicKey.export({ type: 'spki', format: 'pem' }) as string).trim()),
          ),
        ),
      401,
    ],
    [
      'confusion: HS512 with the public key PEM',
      () =>
        infer(
          jws(header({ alg: 'HS512' }), claims(), (i) =>
            createHmac('sha512', publicKey.export({ type: 'spki', format: 'pem' }) as string)
              .update(i)
              .digest('base64url'),
          ),
        ),
      401,
    ],
    [
      'confusion: PS256 header over an RS256 key (alg must equal the key’s)',
      () =>
        infer(
          jws(header({ alg: 'PS256' }), claims(), (i) =>
            cryptoSign('sha256', Buffer.from(i), { key: privateKey, padding: 6 }).toString(
              'base64url',
            ),
          ),
        ),
      401,
    ],
    [
      'confusion: ES256 header naming the RSA kid',
      () => infer(jws(header({ alg: 'ES256' }), claims(), rs256(privateKey))),
      401,
    ],
    // --- keys embedded in the header (RFC 8725 §3.10, CVE-2018-0114 node-jose, jwt_tool -X i/s)
    [
      'embedded jwk: attacker key in "jwk", signed with it, no kid',
      () =>
        infer(
          jws(
            header({ kid: undefined, jwk: attacker.publicKey.export({ format: 'jwk' }) }),
            claims(),
            rs256(attacker.privateKey),
          ),
        ),
      401,
    ],
    [
      'embedded jwk: attacker key in "jwk" beside the real kid',
      () =>
        infer(
          jws(
            header({ jwk: attacker.publicKey.export({ format: 'jwk' }) }),
            claims(),
            rs256(attacker.privateKey),
          ),
        ),
      401,
    ],
    [
      'embedded jku: attacker JWKS URL (never fetched)',
      () =>
        infer(
          jws(
            header({ kid: 'attacker', jku: `${outboundUrl}/jwks.json` }),
            claims(),
            rs256(attacker.privateKey),
          ),
        ),
      401,
    ],
    [
      'embedded x5u: attacker certificate URL (never fetched)',
      () =>
        infer(
          jws(
            header({ kid: 'attacker', x5u: `${outboundUrl}/cert.pem` }),
            claims(),
            rs256(attacker.privateKey),
          ),
        ),
      401,
    ],
    [
      'embedded x5c: attacker certificate chain',
      () =>
        infer(
          jws(
            header({
              kid: undefined,
              x5c: [attacker.publicKey.export({ type: 'spki', format: 'der' }).toString('base64')],
            }),
            claims(),
            rs256(attacker.privateKey),
          ),
        ),
      401,
    ],
    // --- kid traversal and injection (OWASP JWT cheat sheet, jwt_tool -I -hc kid)
    [
      'kid: path traversal to /dev/null with an empty HMAC key',
      () =>
        infer(jws(header({ alg: 'HS256', kid: '../../../../../../dev/null' }), claims(), hmac(''))),
      401,
    ],
    [
      'kid: absolute path /dev/null',
      () => infer(jws(header({ alg: 'HS256', kid: '/dev/null' }), claims(), hmac(Buffer.alloc(0)))),
      401,
    ],
    [
      'kid: SQL injection',
      () => infer(jws(header({ kid: "x' UNION SELECT 'secret' --" }), claims(), hmac('secret'))),
      401,
    ],
    [
      'kid: shell injection',
      () => infer(jws(header({ kid: 'key$(id)|ls' }), claims(), rs256(attacker.privateKey))),
      401,
    ],
    [
      'kid: NUL byte',
      () => infer(jws(header({ kid: `${kid}\u0000` }), claims(), rs256(privateKey))),
      401,
    ],
    [
      'kid: 10,000 characters',
      () => infer(jws(header({ kid: 'k'.repeat(10_000) }), claims(), rs256(privateKey))),
      401,
    ],
    ['kid: a number', () => infer(jws(header({ kid: 42 }), claims(), rs256(privateKey))), 401],
    [
      'kid: an object',
      () => infer(jws(header({ kid: { $ne: null } }), claims(), rs256(privateKey))),
      401,
    ],
    ['kid: unknown', () => infer(real({}, { kid: 'no-such-key' })), 401],
    // --- crit (RFC 7515 §4.1.11)
    ['crit: names a registered claim ("exp")', () => infer(real({}, { crit: ['exp'] })), 401],
    [
      'crit: an unknown extension',
      () => infer(real({}, { crit: ['x-tessera-ignore'], 'x-tessera-ignore': true })),
      401,
    ],
    ['crit: empty list', () => infer(real({}, { crit: [] })), 401],
    [
      'crit: b64=false (RFC 7797) not understood',
      () => infer(real({}, { crit: ['b64'], b64: false })),
      401,
    ],
    // --- signatures truncated, stripped, swapped (RFC 8725 §3.1, jwt_tool -X n)
    [
      'signature: stripped (header.payload.)',
      () => infer(`${good.split('.').slice(0, 2).join('.')}.`),
      401,
    ],
    ['signature: two segments only', () => infer(good.split('.').slice(0, 2).join('.')), 401],
    ['signature: truncated by one character', () => infer(good.slice(0, -1)), 401],
    [
      'signature: one bit flipped',
      () => {
        const parts = good.split('.');
        const sig = Buffer.from(parts[2], 'base64url');
        sig[10] ^= 1;
        return infer(`${parts[0]}.${parts[1]}.${sig.toString('base64url')}`);
      },
      401,
    ],
    [
      'signature: taken from another genuine token',
      () => infer(`${good.split('.').slice(0, 2).join('.')}.${admin.split('.')[2]}`),
      401,
    ],
    [
      'payload: claims changed under a genuine signature',
      () => {
        const parts = good.split('.');
        return infer(`${parts[0]}.${b64(claims({ roles: ['admin'] }))}.${parts[2]}`);
      },
      401,
    ],
    ['structure: a fourth segment', () => infer(`${good}.AAAA`), 401],
    [
      'structure: JWE-shaped (five segments)',
      () => infer(`${b64({ alg: 'dir', enc: 'A256GCM' })}..AAAA.AAAA.AAAA`),
      401,
    ],
    ['structure: header not JSON', () => infer(`${b64('not json')}.${b64(claims())}.AAAA`), 401],
    // --- each claim missing or of the wrong type (RFC 9068 §2.2, RFC 8725 §3.8–3.9)
    ['claim: exp missing', () => infer(real({ exp: undefined })), 401],
    ['claim: exp a string', () => infer(real({ exp: 'tomorrow' })), 401],
    ['claim: exp in the past', () => infer(real({ exp: Math.floor(Date.now() / 1000) - 60 })), 401],
    [
      'claim: nbf in the future',
      () => infer(real({ nbf: Math.floor(Date.now() / 1000) + 3600 })),
      401,
    ],
    ['claim: nbf missing', () => infer(real({ nbf: undefined })), 401],
    ['claim: iat missing', () => infer(real({ iat: undefined })), 401],
    ['claim: iat a string', () => infer(real({ iat: 'now' })), 401],
    ['claim: sub missing', () => infer(real({ sub: undefined })), 401],
    ['claim: sub empty', () => infer(real({ sub: '' })), 401],
    ['claim: sub a number', () => infer(real({ sub: 1234 })), 401],
    ['claim: jti missing', () => infer(real({ jti: undefined })), 401],
    ['claim: jti a number', () => infer(real({ jti: 7 })), 401],
    ['claim: iss missing', () => infer(real({ iss: undefined })), 401],
    ['claim: iss another issuer', () => infer(real({ iss: 'https://evil.example.com' })), 401],
    ['claim: aud missing', () => infer(real({ aud: undefined })), 401],
    ['claim: aud another audience', () => infer(real({ aud: 'another-api' })), 401],
    ['claim: aud a list without tessera', () => infer(real({ aud: ['a', 'b'] })), 401],
    ['claim: roles a string grants nothing', () => infer(real({ roles: 'admin' })), 403],
    ['claim: token_type unknown', () => infer(real({ token_type: 'god' })), 401],
    // --- wrong typ (RFC 9068 §2.1, RFC 8725 §3.11: explicit typing)
    ['typ: "JWT" instead of at+jwt', () => infer(real({}, { typ: 'JWT' })), 401],
    ['typ: missing', () => infer(real({}, { typ: undefined })), 401],
    ['typ: "dpop+jwt"', () => infer(real({}, { typ: 'dpop+jwt' })), 401],
    // --- other token kinds where an access token is required (RFC 9068 §4, SPEC)
    ['kind: a parent token used as an access token', () => infer(parentToken), 401],
    ['kind: a refresh token used as a bearer token', () => infer(refreshToken), 401],
    [
      'kind: a parent-typed token forged with the real key',
      () => infer(real({ token_type: 'parent' })),
      401,
    ],
    ['revoked: a revoked access token', () => infer(revokedToken), 401],
    // --- the Authorization header itself (RFC 6750 §2.1)
    ['header: Bearer <t> <t>', () => withAuthorization(`Bearer ${good} ${good}`), 401],
    ['header: Bearer <t> with trailing garbage', () => withAuthorization(`Bearer ${good}!`), 401],
    [
      'header: Bearer with a comma-joined second token',
      () => withAuthorization(`Bearer ${good},${good}`),
      401,
    ],
    [
      'header: Basic credentials on a bearer route',
      () =>
        withAuthorization(
          `Basic ${Buffer.from(`${CLIENTS.admin.id}:${CLIENTS.admin.secret}`).toString('base64')}`,
        ),
      401,
    ],
    // --- oversized (RFC 8725 §3.x DoS; fast-jwt CVE-2023-48223 regex cost)
    [
      'oversized: an 8 KB token',
      () => infer(`${b64(header())}.${b64({ pad: 'x'.repeat(6000) })}.${'A'.repeat(342)}`),
      401,
    ],
    [
      'oversized: a 20 KB Authorization header',
      () => withAuthorization(`Bearer ${'A'.repeat(20_000)}`),
      431,
    ],
    [
      'oversized: a token header nested 2,000 deep',
      () => infer(`${b64('['.repeat(2000) + ']'.repeat(2000))}.${b64(claims())}.AAAA`),
      401,
    ],
    // --- the token endpoint's own (RFC 6749 §5.2)
    [
      'token endpoint: wrong client secret',
      () => oauthToken({ grant_type: 'client_credentials' }, [CLIENTS.operator.id, 'wrong']),
      401,
    ],
    [
      'token endpoint: unknown client',
      () => oauthToken({ grant_type: 'client_credentials' }, ['nobody', 'x']),
      401,
    ],
    [
      'token endpoint: Basic and client_secret_post together',
      () =>
        oauthToken(
          {
            grant_type: 'client_credentials',
            client_id: CLIENTS.operator.id,
            client_secret: CLIENTS.operator.secret,
          },
          [CLIENTS.operator.id, CLIENTS.operator.secret],
        ),
      400,
    ],
    [
      'token endpoint: malformed Basic credentials',
      () =>
        sut
          .http()
          .post('/oauth/token')
          .set('Authorization', 'Basic !!!notbase64')
          .type('form')
          .send({ grant_type: 'client_credentials' }),
      401,
    ],
    [
      'token endpoint: password grant not allowed for the client',
      () =>
        oauthToken(
          {
            grant_type: 'password',
            username: 'victim@example.com',
            password: 'a long enough password',
          },
          [CLIENTS.operator.id, CLIENTS.operator.secret],
        ),
      400,
    ],
    [
      'token endpoint: unsupported grant type',
      () =>
        oauthToken({ grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer' }, [
          CLIENTS.operator.id,
          CLIENTS.operator.secret,
        ]),
      400,
    ],
    [
      'token endpoint: scope beyond the client’s',
      () =>
        oauthToken({ grant_type: 'client_credentials', scope: 'admin:everything' }, [
          CLIENTS.operator.id,
          CLIENTS.operator.secret,
        ]),
      400,
    ],
    [
      'token endpoint: NUL in client_id',
      () =>
        oauthToken({ grant_type: 'client_credentials', client_id: 'a\u0000b', client_secret: 'x' }),
      400,
    ],
    [
      'token endpoint: JSON nested 10,000 deep',
      () =>
        sut
          .http()
          .post('/oauth/token')
          .set('Content-Type', 'application/json')
          .send('['.repeat(10_000) + ']'.repeat(10_000)),
      400,
    ],
    [
      'token endpoint: an access token as a refresh token',
      () => oauthToken({ grant_type: 'refresh_token', refresh_token: good }),
      400,
    ],
    [
      'login: NUL in the email',
      () =>
        sut.http().post('/auth/login').send({ email: 'victim@example.com\u0000', password: 'x' }),
      400,
    ],
    [
      'login: wrong password',
      () =>
        sut
          .http()
          .post('/auth/login')
          .send({ email: 'victim@example.com', password: 'wrong password here' }),
      401,
    ],
  ];

  it.each(CASES)('%s', async (_name, run, status) => {
    expectStatus(await run(), status);
  });

  it('token endpoint: a replayed refresh token is refused (and burns its family)', async () => {
    const first = await oauthToken({ grant_type: 'refresh_token', refresh_token: refreshToken });
    expectStatus(first, 200);
    expectStatus(
      await oauthToken({ grant_type: 'refresh_token', refresh_token: refreshToken }),
      400,
    );
    expectStatus(
      await oauthToken({ grant_type: 'refresh_token', refresh_token: first.body.refresh_token }),
      400,
    );
  });

  it('never fetched a jku or x5u URL', () => {
    expect(outboundHits).toBe(0);
  });

  it('retired key: a token signed before a hard rotation is refused', async () => {
    const before = real();
    expectStatus(await infer(before), 200);
    const rotated = await sut
      .http()
      .post('/secrets/refresh')
      .set(bearer(admin))
      .send({ mode: 'hard' });
    expectStatus(rotated, 200);
    expectStatus(await infer(before), 401);
    expectStatus(await infer(good), 401);
  });
});

describe('security: ECDSA psychic signatures (CVE-2022-21449) against an ES256 app', () => {
  let sut: TestApp;
  let kid: string;

  beforeAll(async () => {
    sut = await startTestApp({ env: { JWT_ALGORITHM: 'ES256' } });
    kid = sut.app.get(KeysService).signingKey().kid;
  });

  afterAll(async () => {
    await sut?.close();
  });

  const forged = (signature: Buffer) => {
    const now = Math.floor(Date.now() / 1000);
    const input = `${b64({ alg: 'ES256', typ: 'at+jwt', kid })}.${b64({ iss: sut.url, aud: 'tessera', sub: 'psychic', iat: now, nbf: now, exp: now + 600, jti: randomUUID(), roles: ['admin'], token_type: 'access' })}`;
    return `${input}.${signature.toString('base64url')}`;
  };
  // The P-256 group order n: r = s = n is as "zero" as r = s = 0.
  const n = Buffer.from('ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551', 'hex');

  it.each<[string, Buffer]>([
    ['psychic: r = s = 0 (64 zero bytes)', Buffer.alloc(64)],
    ['psychic: r = s = n (the curve order)', Buffer.concat([n, n])],
    ['psychic: a DER-encoded zero signature', Buffer.from('3006020100020100', 'hex')],
    ['psychic: an empty signature', Buffer.alloc(0)],
  ])('%s', async (_name, signature) => {
    const response = await sut
      .http()
      .post('/v1/infer')
      .set(bearer(forged(signature)))
      .send({ prompt: 'hi' });
    expectStatus(response, 401);
  });
});

describe('security: the HS256 shared-secret mode', () => {
  let sut: TestApp;
  const secret = 'security-suite-shared-secret-0123456789';

  beforeAll(async () => {
    sut = await startTestApp({ env: { JWT_ALGORITHM: 'HS256', JWT_SECRET_KEY: secret } });
  });

  afterAll(async () => {
    await sut?.close();
  });

  const now = () => Math.floor(Date.now() / 1000);
  const full = () => ({
    iss: sut.url,
    aud: 'tessera',
    sub: 'svc',
    iat: now(),
    nbf: now(),
    exp: now() + 300,
    jti: randomUUID(),
    roles: ['operator'],
    token_type: 'access',
  });
  const infer = (token: string) =>
    sut.http().post('/v1/infer').set(bearer(token)).send({ prompt: 'hi' });

  it.each<[string, () => string, number]>([
    [
      'hs256: a token without kid, all claims, the shared secret (PyJWT’s shape) is accepted',
      () => jws({ alg: 'HS256', typ: 'at+jwt' }, full(), hmac(secret)),
      200,
    ],
    [
      'hs256: a token without kid signed with another secret',
      () =>
        jws({ alg: 'HS256', typ: 'at+jwt' }, full(), hmac('another-secret-another-secret-01234')),
      401,
    ],
    [
      'hs256: the legacy shape {sub, iat} while ACCEPT_LEGACY_HS256_TOKENS is off',
      () => jws({ alg: 'HS256', typ: 'JWT' }, { sub: 'legacy', iat: now() }, hmac(secret)),
      401,
    ],
    [
      'hs256: alg none without kid',
      () => jws({ alg: 'none', typ: 'at+jwt' }, full(), unsigned),
      401,
    ],
    [
      'hs256: an RS256 header over the HMAC',
      () => jws({ alg: 'RS256', typ: 'at+jwt' }, full(), hmac(secret)),
      401,
    ],
    [
      'hs256: crit without kid',
      () => jws({ alg: 'HS256', typ: 'at+jwt', crit: ['exp'] }, full(), hmac(secret)),
      401,
    ],
  ])('%s', async (_name, make, status) => {
    expectStatus(await infer(make()), status);
  });
});
