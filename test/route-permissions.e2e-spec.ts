import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { RbacService } from '../src/rbac/rbac.service';
import { KNOWN_PERMISSIONS } from '../src/rbac/rbac.service';
import { bearer, CLIENTS, tokenFor } from './support/factories';
import { startTestApp, TestApp } from './support/app';
import { policyFile, standardPolicy } from './support/policy';
import { listRoutes, RouteInfo } from './support/routes';

const SNAPSHOT = join(__dirname, 'route-permissions.snapshot.json');

/**
 * Every route's access decision, compared with a committed snapshot. A diff here is a permission
 * change: review it as one (then run with UPDATE_ROUTE_SNAPSHOT=1 to accept it).
 */
describe('route permissions', () => {
  let sut: TestApp;
  let routes: RouteInfo[];

  beforeAll(async () => {
    // No rate limits here: the matrix sends many requests per role.
    sut = await startTestApp({ env: { AUTH_POLICY_FILE: policyFile(standardPolicy()) } });
    routes = listRoutes(sut.app);
  });

  afterAll(async () => {
    await sut.close();
  });

  it('gives every non-public route a permission, role or scope decision', () => {
    expect(routes.length).toBeGreaterThan(10);
    const undecided = routes.filter(
      (r) =>
        !r.decision.public &&
        r.decision.permissions === undefined &&
        r.decision.roles === undefined &&
        r.decision.scopes === undefined,
    );
    expect(undecided.map((r) => `${r.method} ${r.path}`)).toEqual([]);
  });

  it('guards every admin route by a named permission', () => {
    const admin = routes.filter(
      (r) => r.path.startsWith('/admin') || r.path.startsWith('/secrets'),
    );
    expect(admin.length).toBeGreaterThan(0);
    const unnamed = admin.filter((r) => !r.decision.permissions?.length);
    expect(unnamed.map((r) => `${r.method} ${r.path}`)).toEqual([]);
  });

  it('asks only for permissions listed in KNOWN_PERMISSIONS (and README)', () => {
    const known = new Set<string>(KNOWN_PERMISSIONS);
    const unknown = routes.flatMap((r) =>
      (r.decision.permissions ?? []).filter((p) => !known.has(p)),
    );
    expect(unknown).toEqual([]);
  });

  it('matches the committed snapshot of route decisions', () => {
    const current = routes.map((r) => ({
      route: `${r.method} ${r.path}`,
      ...(r.decision.public
        ? { public: true }
        : {
            ...(r.decision.permissions ? { permissions: r.decision.permissions } : {}),
            ...(r.decision.roles ? { roles: r.decision.roles } : {}),
            ...(r.decision.scopes ? { scopes: r.decision.scopes } : {}),
            ...(r.decision.clientAuthentication ? { clientAuthentication: true } : {}),
          }),
    }));
    if (process.env.UPDATE_ROUTE_SNAPSHOT === '1') {
      writeFileSync(SNAPSHOT, JSON.stringify(current, null, 2) + '\n');
    }
    if (!existsSync(SNAPSHOT))
      throw new Error(
        `${SNAPSHOT} is missing: run once with UPDATE_ROUTE_SNAPSHOT=1 and commit it`,
      );
    expect(current).toEqual(JSON.parse(readFileSync(SNAPSHOT, 'utf8')));
  });

  it('answers each role on each protected route as its permissions say (permission matrix)', async () => {
    const rbac = sut.app.get(RbacService);
    const roles = ['admin', 'operator', 'viewer'] as const;
    const tokens = {
      admin: await tokenFor(sut.url, CLIENTS.admin),
      operator: await tokenFor(sut.url, CLIENTS.operator),
      viewer: await tokenFor(sut.url, CLIENTS.viewer),
    };
    const mismatches: string[] = [];
    // Admin last: its allowed calls may change state (a soft rotation, say); none revoke tokens.
    for (const role of [...roles].reverse()) {
      for (const route of routes.filter((r) => !r.decision.public)) {
        const { permissions = [], roles: needRoles, scopes } = route.decision;
        const allowed =
          rbac.allows([role], permissions) &&
          (!needRoles || needRoles.includes(role)) &&
          (!scopes || scopes.length === 0);
        const path = route.path.replace(/:[A-Za-z_]+/g, 'matrix-probe');
        // A route answering every method (ALL, e.g. Envoy's /authorize/*) is probed with POST.
        const method = (route.method === 'ALL' ? 'post' : route.method.toLowerCase()) as
          'get' | 'post' | 'put' | 'patch' | 'delete';
        const response = await sut.http()[method](path).set(bearer(tokens[role])).send({});
        const refused = response.status === 403 || response.status === 401;
        // /oauth/introspect answers in RFC 6749 form (insufficient_scope), the rest problem+json.
        const detail = response.body.detail ?? response.body.error_description;
        if (allowed === refused || (refused && detail !== 'Insufficient permissions'))
          mismatches.push(`${role} ${route.method} ${route.path}: ${response.status} ${detail}`);
      }
    }
    expect(mismatches).toEqual([]);
  });

  it('names the permission that was required in the 403', async () => {
    const viewer = await tokenFor(sut.url, CLIENTS.viewer);
    const response = await sut.http().post('/v1/infer').set(bearer(viewer)).send({ prompt: 'x' });
    expect(response.status).toBe(403);
    expect(response.body).toMatchObject({
      detail: 'Insufficient permissions',
      required: ['invoke'],
    });
  });
});
