import type { AuthenticatedRequest } from '../../access/principal';
import type { RouteRule } from '../../access/route-rule';
import type { ClientsService } from '../../clients/clients.service';
import { OAuthError } from '../../common/errors';
import { ClientCredentialsAuthenticator } from './client-credentials.authenticator';

const CLIENT = { id: 'resource-server', roles: ['introspector'], scopes: ['a'] };
/** What ClientsService.authenticateOrRefuse answers (it audits the refusal: e2e-tested). */
const refusedIn: string[] = [];
const clients = {
  authenticateOrRefuse: (
    { clientId, clientSecret }: { clientId: string; clientSecret: string },
    origin: { id: string },
  ) => {
    if (clientId === CLIENT.id && clientSecret === 'right') return CLIENT;
    refusedIn.push(origin.id);
    throw new OAuthError('invalid_client', 'Client authentication failed');
  },
} as unknown as ClientsService;

function request(rule: RouteRule, body: Record<string, string>, authorization?: string) {
  return {
    id: 'req-1',
    routeRule: rule,
    body,
    headers: authorization ? { authorization } : {},
  } as unknown as AuthenticatedRequest & { id: string };
}

const INTROSPECTION: RouteRule = {
  kind: 'protected',
  permissions: ['tokens:introspect'],
  clientAuthentication: true,
};
const API: RouteRule = { kind: 'protected', permissions: ['invoke'] };
const posted = { client_id: CLIENT.id, client_secret: 'right' };

describe('ClientCredentialsAuthenticator', () => {
  const sut = new ClientCredentialsAuthenticator(clients);

  it('makes the client the caller where the route rule accepts client authentication', async () => {
    const principal = await sut.authenticate(request(INTROSPECTION, posted), {});
    expect(principal).toMatchObject({
      subject: CLIENT.id,
      clientId: CLIENT.id,
      roles: CLIENT.roles,
      method: 'client_credentials',
    });
    const basic = `Basic ${Buffer.from(`${CLIENT.id}:right`).toString('base64')}`;
    expect(await sut.authenticate(request(INTROSPECTION, {}, basic), {})).toMatchObject({
      subject: CLIENT.id,
    });
  });

  it('ignores a client secret on every other route (it is not an API credential)', async () => {
    expect(await sut.authenticate(request(API, posted), {})).toBeUndefined();
    expect(await sut.authenticate(request({ kind: 'public' }, posted), {})).toBeUndefined();
  });

  it('refuses wrong credentials with invalid_client and two methods with invalid_request', () => {
    const wrong = { client_id: CLIENT.id, client_secret: 'wrong' };
    expect(() => sut.authenticate(request(INTROSPECTION, wrong), {})).toThrow(
      expect.objectContaining({ error: 'invalid_client' }),
    );
    expect(refusedIn).toEqual(['req-1']); // refused in the request it came in (for its audit event)
    expect(() => sut.authenticate(request(INTROSPECTION, posted), { bearer: 'abc' })).toThrow(
      OAuthError,
    );
  });
});
