import request from 'supertest';

export interface TestClient {
  id: string;
  secret: string;
  roles: string[];
  scopes?: string[];
}

/** The clients every test app starts with (through AUTH_CLIENTS_JSON, as a user would). */
export const CLIENTS = {
  admin: { id: 'test-admin', secret: 'admin-secret-0123456789abcdef', roles: ['admin'] },
  operator: {
    id: 'test-operator',
    secret: 'operator-secret-0123456789abcdef',
    roles: ['operator'],
    scopes: ['model:invoke', 'sync:write'],
  },
  viewer: { id: 'test-viewer', secret: 'viewer-secret-0123456789abcdef', roles: ['viewer'] },
} satisfies Record<string, TestClient>;

export function clientsJson(clients: TestClient[] = Object.values(CLIENTS)): string {
  return JSON.stringify(
    Object.fromEntries(
      clients.map((c) => [c.id, { secret: c.secret, roles: c.roles, scopes: c.scopes }]),
    ),
  );
}

/** Client-credentials token over real HTTP. */
export async function tokenFor(
  baseUrl: string,
  client: TestClient,
  scope?: string,
): Promise<string> {
  const response = await request(baseUrl)
    .post('/oauth/token')
    .auth(client.id, client.secret)
    .type('form')
    .send({ grant_type: 'client_credentials', ...(scope ? { scope } : {}) });
  if (response.status !== 200)
    throw new Error(`token request failed: ${response.status} ${response.text}`);
  return response.body.access_token as string;
}

export function bearer(token: string): { Authorization: string } {
  return { Authorization: `Bearer ${token}` };
}

/** Anything with the test app's HTTP client (a TestApp, a replica). */
interface HasHttp {
  http: () => ReturnType<typeof request>;
}

let sequence = 0;
/** A name no other test in the run uses. */
export const unique = (prefix: string) =>
  `${prefix}-${process.pid}-${Date.now().toString(36)}-${++sequence}`;

async function created(
  app: HasHttp,
  admin: string,
  path: string,
  body: Record<string, unknown>,
  headers: Record<string, string> = {},
): Promise<Record<string, unknown>> {
  const response = await app.http().post(path).set(bearer(admin)).set(headers).send(body);
  if (response.status !== 201)
    throw new Error(`POST ${path} failed: ${response.status} ${response.text}`);
  return response.body as Record<string, unknown>;
}

/**
 * A client created through the admin API; `secret` is the one-time client_secret. `requestId`:
 * the request's `X-Request-Id` (its audit event carries it).
 */
export async function createClient(
  app: HasHttp,
  admin: string,
  body: Record<string, unknown> = {},
  { requestId }: { requestId?: string } = {},
): Promise<TestClient & { body: Record<string, unknown> }> {
  const out = await created(
    app,
    admin,
    '/admin/clients',
    { id: unique('client'), ...body },
    requestId ? { 'x-request-id': requestId } : {},
  );
  return {
    id: out.id as string,
    secret: out.client_secret as string,
    roles: (out.roles as string[]) ?? [],
    body: out,
  };
}

/** A user created through the admin API, with the password it logs in with. */
export async function createUser(
  app: HasHttp,
  admin: string,
  body: Record<string, unknown> = {},
): Promise<{ oid: string; email: string; password: string; body: Record<string, unknown> }> {
  const email = (body.email as string) ?? `${unique('user')}@example.com`;
  const password = (body.password as string) ?? 'a long enough password';
  const out = await created(app, admin, '/admin/users', { email, password, ...body });
  return { oid: out.oid as string, email, password, body: out };
}

/** An API key created through the admin API; `key` is shown only this once. */
export async function createApiKey(
  app: HasHttp,
  admin: string,
  body: Record<string, unknown> = {},
): Promise<{ id: string; key: string; body: Record<string, unknown> }> {
  const out = await created(app, admin, '/admin/api-keys', { name: unique('key'), ...body });
  return { id: out.id as string, key: out.key as string, body: out };
}

/** A role created through the admin API. */
export async function createRole(
  app: HasHttp,
  admin: string,
  body: Record<string, unknown> & { permissions: string[] },
): Promise<{ name: string; body: Record<string, unknown> }> {
  const out = await created(app, admin, '/admin/roles', { name: unique('role'), ...body });
  return { name: out.name as string, body: out };
}
