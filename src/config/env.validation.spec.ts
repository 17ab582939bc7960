import { availableParallelism } from 'node:os';
import { ConfigValidationError, parseClientsJson, validateEnv } from './env.validation';

describe('validateEnv', () => {
  it('applies the SPEC defaults to an empty environment', () => {
    const sut = validateEnv({});
    expect(sut).toMatchObject({
      port: 3000,
      host: '127.0.0.1',
      databaseUrl: undefined,
      dataDir: './.data',
      jwtIssuer: 'http://127.0.0.1:3000',
      jwtAudience: 'tessera',
      jwtAlgorithm: 'RS256',
      accessTokenTtl: 900,
      parentTokenTtl: 30 * 86400,
      keyRotationInterval: 30 * 86400,
      authPolicyFile: 'config/auth.yaml',
      autoRenewThresholdSeconds: 120,
      autoRenewWorkerInterval: 30,
      bootstrapClients: [],
    });
  });

  it.each([
    [
      { PORT: 'abc' },
      'Invalid configuration: PORT must be a whole number from 0 to 65535 (got "abc")',
    ],
    [
      { PORT: '70000' },
      'Invalid configuration: PORT must be a whole number from 0 to 65535 (got "70000")',
    ],
    [
      { ACCESS_TOKEN_TTL: 'soon' },
      'Invalid configuration: ACCESS_TOKEN_TTL must be a duration such as 3600s, 30m, 24h, 7d or 4w (got "soon")',
    ],
    [
      { JWT_ALGORITHM: 'none' },
      'Invalid configuration: JWT_ALGORITHM must be one of RS256, PS256, ES256, HS256 (got "none")',
    ],
    [
      { JWT_ALGORITHM: 'HS256', JWT_SECRET_KEY: 'short' },
      'Invalid configuration: JWT_SECRET_KEY must be set and at least 32 characters long when JWT_ALGORITHM=HS256',
    ],
    [
      { DATABASE_URL: 'mysql://x' },
      'Invalid configuration: DATABASE_URL must use one of postgres, postgresql (got "mysql:")',
    ],
    [{ JWT_ISSUER: 'not a url' }, 'Invalid configuration: JWT_ISSUER must be a URL (http, https)'],
    [
      { NODE_ENV: 'production' },
      'Invalid configuration: KEY_ENCRYPTION_KEY is required when NODE_ENV=production',
    ],
    [
      { KEY_ENCRYPTION_KEY: 'too-short' },
      expect.stringContaining('KEY_ENCRYPTION_KEY must be 32 random bytes'),
    ],
    [
      { AUTH_CLIENT_ID: 'x' },
      'Invalid configuration: AUTH_CLIENT_SECRET must be set when AUTH_CLIENT_ID is set',
    ],
    [
      { AUTH_CLIENTS_JSON: '{not json' },
      'Invalid configuration: AUTH_CLIENTS_JSON must be a JSON object mapping client ids to secrets',
    ],
    [
      { ALLOW_NON_EXPIRING_TOKENS: 'maybe' },
      'Invalid configuration: ALLOW_NON_EXPIRING_TOKENS must be true or false (got "maybe")',
    ],
    [{ LOG_LEVEL: 'loud' }, expect.stringContaining('LOG_LEVEL must be one of')],
    [
      { PUBLIC_KEY_PATH: '/x.pem' },
      'Invalid configuration: PRIVATE_KEY_PATH must be set when PUBLIC_KEY_PATH is set',
    ],
  ])('refuses %p with one line naming the variable', (env, message) => {
    let error: unknown;
    try {
      validateEnv(env);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigValidationError);
    expect((error as Error).message).toEqual(message);
    expect((error as Error).message).not.toContain('\n');
  });

  it('accepts a 32-byte key encryption key in hex or base64', () => {
    expect(validateEnv({ KEY_ENCRYPTION_KEY: 'ab'.repeat(32) }).keyEncryptionKey).toHaveLength(32);
    expect(
      validateEnv({ KEY_ENCRYPTION_KEY: Buffer.alloc(32, 1).toString('base64') }).keyEncryptionKey,
    ).toHaveLength(32);
  });

  it('reads WORKERS: 1 by default, a whole number, or auto (one per CPU)', () => {
    expect(validateEnv({}).workers).toBe(1);
    expect(validateEnv({ WORKERS: '4' }).workers).toBe(4);
    expect(validateEnv({ WORKERS: 'auto' }).workers).toBe(availableParallelism());
    expect(() => validateEnv({ WORKERS: '0' })).toThrow(
      'Invalid configuration: WORKERS must be a whole number from 1 to 256 or auto (got "0")',
    );
    expect(() => validateEnv({ WORKERS: '999' })).toThrow(
      'Invalid configuration: WORKERS must be a whole number from 1 to 256 or auto (got "999")',
    );
    expect(() => validateEnv({ WORKERS: 'many' })).toThrow(
      'Invalid configuration: WORKERS must be a whole number from 1 to 256 or auto (got "many")',
    );
  });

  it('reads DATABASE_POOL_SIZE: 10 by default, a whole number from 1 to 100', () => {
    expect(validateEnv({}).databasePoolSize).toBe(10);
    expect(validateEnv({ DATABASE_POOL_SIZE: '25' }).databasePoolSize).toBe(25);
    expect(() => validateEnv({ DATABASE_POOL_SIZE: '0' })).toThrow(
      'Invalid configuration: DATABASE_POOL_SIZE must be a whole number from 1 to 100 (got "0")',
    );
  });

  it('reads TRUST_PROXY: loopback and private networks by default, or what it names', () => {
    expect(validateEnv({}).trustProxy).toEqual(['loopback', 'linklocal', 'uniquelocal']);
    expect(validateEnv({ TRUST_PROXY: 'false' }).trustProxy).toBe(false);
    expect(validateEnv({ TRUST_PROXY: 'true' }).trustProxy).toBe(true);
    expect(validateEnv({ TRUST_PROXY: '2' }).trustProxy).toBe(2);
    expect(validateEnv({ TRUST_PROXY: '10.0.0.0/8, 192.0.2.1, ::1, loopback' }).trustProxy).toEqual(
      ['10.0.0.0/8', '192.0.2.1', '::1', 'loopback'],
    );
    for (const bad of ['10.0.0.0/33', 'proxy.example', '10.0.0.1/8/1', 'yes'])
      expect(() => validateEnv({ TRUST_PROXY: bad })).toThrow(
        /^Invalid configuration: TRUST_PROXY must be true, false, a hop count, or addresses/,
      );
  });

  it('takes the issuer default from PORT', () => {
    expect(validateEnv({ PORT: '8080' }).jwtIssuer).toBe('http://127.0.0.1:8080');
  });

  it('combines AUTH_CLIENT_ID/SECRET with AUTH_CLIENTS_JSON', () => {
    const sut = validateEnv({
      AUTH_CLIENT_ID: 'a',
      AUTH_CLIENT_SECRET: 's',
      AUTH_CLIENTS_JSON: '{"b":"t"}',
    });
    expect(sut.bootstrapClients).toEqual([
      { id: 'a', secret: 's' },
      { id: 'b', secret: 't' },
    ]);
  });
});

describe('parseClientsJson', () => {
  it('accepts both the flat and the detailed form', () => {
    expect(
      parseClientsJson(
        '{"a":"s1","b":{"secret":"s2","roles":["admin"],"scopes":["model:invoke"]}}',
      ),
    ).toEqual([
      { id: 'a', secret: 's1' },
      { id: 'b', secret: 's2', roles: ['admin'], scopes: ['model:invoke'] },
    ]);
  });

  it('accepts the gateway fields of a client (models, rate_limit, token_limit, budget)', () => {
    expect(
      parseClientsJson(
        JSON.stringify({
          g: {
            secret: 's',
            roles: ['operator'],
            models: ['llama-*'],
            rate_limit: '5/minute',
            token_limit: '20000/day',
            budget: '2.5/month',
          },
        }),
      ),
    ).toEqual([
      {
        id: 'g',
        secret: 's',
        roles: ['operator'],
        grant: {
          models: ['llama-*'],
          rate_limit: '5/minute',
          token_limit: '20000/day',
          budget: '2.5/month',
        },
      },
    ]);
  });

  it.each([
    ['[]', 'must be a JSON object'],
    ['{"a":""}', 'client "a" has an empty secret'],
    ['{"a":{"roles":["x"]}}', 'client "a" needs a non-empty "secret"'],
    ['{"a":{"secret":"s","roles":"admin"}}', 'client "a" roles must be an array of strings'],
    ['{"a":42}', 'client "a" must be a secret string or an object'],
    [
      '{"a":{"secret":"s","rate_limit":"fast"}}',
      'AUTH_CLIENTS_JSON client "a": rate_limit must look like "100/minute" (minute, hour, day or month)',
    ],
    [
      '{"a":{"secret":"s","token_limit":"1.5/day"}}',
      'client "a": token_limit must look like "20000/day"',
    ],
    ['{"a":{"secret":"s","budget":5}}', 'client "a": budget must look like "5/month" (US dollars)'],
    ['{"a":{"secret":"s","models":"llama-*"}}', 'client "a": models must be a list'],
    ['{"a":{"secret":"s","ratelimit":"5/minute"}}', 'client "a" has unknown field(s) ratelimit'],
  ])('refuses %s', (raw, message) => {
    expect(() => parseClientsJson(raw)).toThrow(message);
  });
});

describe('supplied client secrets', () => {
  const base = { KEY_ENCRYPTION_KEY: Buffer.alloc(32, 7).toString('base64') };

  it('refuse a short secret in production, naming the client', () => {
    expect(() =>
      validateEnv({
        ...base,
        NODE_ENV: 'production',
        AUTH_CLIENT_ID: 'svc',
        AUTH_CLIENT_SECRET: 'hunter2',
      }),
    ).toThrow(
      'Invalid configuration: AUTH_CLIENT_SECRET client "svc": the secret is 7 characters; at least 32 are required when NODE_ENV=production',
    );
    expect(() =>
      validateEnv({ ...base, NODE_ENV: 'production', AUTH_CLIENTS_JSON: '{"a":"short"}' }),
    ).toThrow(/AUTH_CLIENTS_JSON client "a"/);
  });

  it('accept a short secret in development (the prototype’s super-secret-local)', () => {
    expect(
      validateEnv({ AUTH_CLIENT_ID: 'local', AUTH_CLIENT_SECRET: 'super-secret-local' })
        .bootstrapClients,
    ).toEqual([{ id: 'local', secret: 'super-secret-local' }]);
  });

  it('refuse a CLIENT_SECRET_PEPPER shorter than 32 characters', () => {
    expect(() => validateEnv({ CLIENT_SECRET_PEPPER: 'short' })).toThrow(/CLIENT_SECRET_PEPPER/);
  });
});

describe('the default issuer', () => {
  it('is the address the README serves on, and follows PORT and a specific HOST', () => {
    expect(validateEnv({}).jwtIssuer).toBe('http://127.0.0.1:3000');
    expect(validateEnv({ PORT: '8081' }).jwtIssuer).toBe('http://127.0.0.1:8081');
    expect(validateEnv({ HOST: '0.0.0.0' }).jwtIssuer).toBe('http://127.0.0.1:3000');
    expect(validateEnv({ HOST: 'localhost' }).jwtIssuer).toBe('http://localhost:3000');
    expect(validateEnv({ JWT_ISSUER: 'https://auth.example.com' }).jwtIssuer).toBe(
      'https://auth.example.com',
    );
  });
});
