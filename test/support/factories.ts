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

export interface TestUser {
  oid: string;
  email: string;
  password: string;
}

/** A person created through the admin API (`POST /admin/users`) with `roles`. */
export async function createUser(
  baseUrl: string,
  adminToken: string,
  options: { email?: string; password?: string; roles?: string[]; name?: string } = {},
): Promise<TestUser> {
  const email = options.email ?? `person-${Math.random().toString(36).slice(2, 10)}@example.com`;
  const password = options.password ?? 'a long enough password';
  const response = await request(baseUrl)
    .post('/admin/users')
    .set(bearer(adminToken))
    .send({ email, password, name: options.name, roles: options.roles });
  if (response.status !== 201)
    throw new Error(`user creation failed: ${response.status} ${response.text}`);
  return { oid: response.body.oid as string, email, password };
}
