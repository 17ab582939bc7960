import { startTestApp, TestApp } from './support/app';
import { ensureConsoleBuilt } from './support/console';
import { bearer, CLIENTS, createUser, tokenFor } from './support/factories';

type TestUser = Awaited<ReturnType<typeof createUser>>;

const SESSION = '/console/api/session';
const HEADER = { 'X-Tessera-Console': '1' };

function cookieOf(response: { headers: Record<string, unknown> }): string {
  const raw = response.headers['set-cookie'];
  const cookies = (Array.isArray(raw) ? raw : [raw]).filter(
    (c): c is string => typeof c === 'string',
  );
  const cookie = cookies.find((c) => c.startsWith('tessera_console_session='));
  if (!cookie) throw new Error(`no session cookie in ${JSON.stringify(raw)}`);
  return cookie;
}

/** The `name=value` part a browser would send back. */
const sent = (cookie: string) => cookie.split(';')[0];

describe('web console: pages and session', () => {
  let sut: TestApp;
  let admin: string;
  let ada: TestUser;
  let olive: TestUser;

  beforeAll(async () => {
    ensureConsoleBuilt();
    sut = await startTestApp();
    admin = await tokenFor(sut.url, CLIENTS.admin);
    ada = await createUser(sut, admin, { roles: ['admin'] });
    olive = await createUser(sut, admin, { roles: ['operator'] });
  });

  afterAll(async () => {
    await sut.close();
  });

  const signIn = (user: TestUser) =>
    sut.http().post(SESSION).set(HEADER).send({ email: user.email, password: user.password });

  describe('pages', () => {
    it('serves the app at /console with a strict CSP and no framing', async () => {
      const response = await sut.http().get('/console');
      expect(response.status).toBe(200);
      expect(response.headers['content-type']).toMatch(/^text\/html/);
      const csp = response.headers['content-security-policy'];
      expect(csp).toContain("default-src 'none'");
      expect(csp).toContain("script-src 'self'");
      expect(csp).toContain("frame-ancestors 'none'");
      expect(csp).not.toContain('unsafe-inline');
      expect(response.headers['x-frame-options']).toBe('DENY');
      expect(response.headers['x-content-type-options']).toBe('nosniff');
      expect(response.headers['cache-control']).toBe('no-cache');
      // No inline script: every <script> has a src on this origin.
      const scripts = [...response.text.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/g)];
      expect(scripts.length).toBeGreaterThan(0);
      for (const [, attributes, body] of scripts) {
        expect(attributes).toMatch(/src="\/console\/assets\//);
        expect(body.trim()).toBe('');
      }
    });

    it('answers a client-side route with the app and a hashed asset with a year of caching', async () => {
      const page = await sut.http().get('/console/audit');
      expect(page.status).toBe(200);
      expect(page.headers['content-security-policy']).toContain("frame-ancestors 'none'");
      const asset = /src="(\/console\/assets\/[^"]+\.js)"/.exec(page.text)?.[1];
      expect(asset).toBeDefined();
      const script = await sut.http().get(asset!);
      expect(script.status).toBe(200);
      expect(script.headers['content-type']).toMatch(/javascript/);
      expect(script.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    });

    it('refuses missing assets and paths outside the build with 404', async () => {
      for (const path of [
        '/console/assets/missing.js',
        '/console/..%2f..%2fpackage.json',
        '/console/%2e%2e/%2e%2e/package.json',
        '/console/api/session',
      ]) {
        const response = await sut.http().get(path);
        expect({ path, status: response.status }).toEqual({ path, status: 404 });
        expect(response.text).not.toContain('"dependencies"');
      }
    });
  });

  describe('session', () => {
    it('signs in: the access token in the body, the refresh token only in an HttpOnly cookie', async () => {
      const response = await signIn(ada);
      expect(response.status).toBe(200);
      expect(response.headers['cache-control']).toBe('no-store');
      expect(Object.keys(response.body).sort()).toEqual([
        'access_token',
        'expires_in',
        'token_type',
      ]);
      const cookie = cookieOf(response);
      expect(cookie).toMatch(/^tessera_console_session=rt_/);
      expect(cookie).toContain('Path=/console/api/session');
      expect(cookie).toContain('HttpOnly');
      expect(cookie).toContain('SameSite=Strict');
      expect(cookie).not.toContain('Secure');
      const verify = await sut.http().get('/auth/verify').set(bearer(response.body.access_token));
      expect(verify.status).toBe(200);
      expect(verify.body).toMatchObject({ user_id: ada.oid, roles: ['admin'], permissions: ['*'] });
    });

    it('marks the cookie Secure when the request came over TLS (through the proxy)', async () => {
      const response = await signIn(ada).set('X-Forwarded-Proto', 'https');
      expect(cookieOf(response)).toMatch(/; Secure$/);
    });

    it('requires the console header on every session call (CSRF)', async () => {
      const login = await sut
        .http()
        .post(SESSION)
        .send({ email: ada.email, password: ada.password });
      expect(login.status).toBe(400);
      expect(login.body.detail).toBe('The x-tessera-console header is required');
      expect(login.headers['set-cookie']).toBeUndefined();
      const cookie = cookieOf(await signIn(ada));
      const refresh = await sut.http().post(`${SESSION}/refresh`).set('Cookie', sent(cookie));
      expect(refresh.status).toBe(400);
      const signOut = await sut.http().delete(SESSION).set('Cookie', sent(cookie));
      expect(signOut.status).toBe(400);
      // The refused calls changed nothing: the session still refreshes.
      const ok = await sut
        .http()
        .post(`${SESSION}/refresh`)
        .set(HEADER)
        .set('Cookie', sent(cookie));
      expect(ok.status).toBe(200);
    });

    it('answers a wrong password like /auth/login and sets no cookie', async () => {
      const response = await sut
        .http()
        .post(SESSION)
        .set(HEADER)
        .send({ email: ada.email, password: 'not the password' });
      expect(response.status).toBe(401);
      expect(response.body.detail).toBe('Invalid email or password');
      expect(response.headers['set-cookie']).toBeUndefined();
    });

    it('refreshes with rotation: the new cookie works, the old one burns the whole session', async () => {
      const first = cookieOf(await signIn(ada));
      const refreshed = await sut
        .http()
        .post(`${SESSION}/refresh`)
        .set(HEADER)
        .set('Cookie', sent(first));
      expect(refreshed.status).toBe(200);
      expect(refreshed.body.access_token).toEqual(expect.any(String));
      expect(refreshed.body.refresh_token).toBeUndefined();
      const second = cookieOf(refreshed);
      expect(sent(second)).not.toBe(sent(first));
      const admin = await sut.http().get('/admin/clients').set(bearer(refreshed.body.access_token));
      expect(admin.status).toBe(200);

      const reused = await sut
        .http()
        .post(`${SESSION}/refresh`)
        .set(HEADER)
        .set('Cookie', sent(first));
      expect(reused.status).toBe(401);
      expect(cookieOf(reused)).toMatch(/^tessera_console_session=; .*Max-Age=0/);
      const afterReuse = await sut
        .http()
        .post(`${SESSION}/refresh`)
        .set(HEADER)
        .set('Cookie', sent(second));
      expect(afterReuse.status).toBe(401);
    });

    it('answers 401 without a session cookie', async () => {
      const response = await sut.http().post(`${SESSION}/refresh`).set(HEADER);
      expect(response.status).toBe(401);
      expect(response.body.detail).toBe('Not authenticated');
    });

    it('signs out: the cookie is cleared and its refresh token revoked', async () => {
      const cookie = cookieOf(await signIn(ada));
      const out = await sut.http().delete(SESSION).set(HEADER).set('Cookie', sent(cookie));
      expect(out.status).toBe(204);
      expect(cookieOf(out)).toMatch(/Max-Age=0/);
      const refresh = await sut
        .http()
        .post(`${SESSION}/refresh`)
        .set(HEADER)
        .set('Cookie', sent(cookie));
      expect(refresh.status).toBe(401);
    });

    it('ends the session of a user who was disabled', async () => {
      const carol = await createUser(sut, admin, { roles: ['admin'] });
      const cookie = cookieOf(await signIn(carol));
      const disabled = await sut
        .http()
        .patch(`/admin/users/${carol.oid}`)
        .set(bearer(admin))
        .send({ disabled: true });
      expect(disabled.status).toBe(200);
      const refresh = await sut
        .http()
        .post(`${SESSION}/refresh`)
        .set(HEADER)
        .set('Cookie', sent(cookie));
      expect(refresh.status).toBe(401);
    });

    it('gives a person without admin permissions a session the admin API still refuses', async () => {
      const response = await signIn(olive);
      expect(response.status).toBe(200);
      const token = response.body.access_token as string;
      const verify = await sut.http().get('/auth/verify').set(bearer(token));
      expect(verify.body.permissions).toEqual(['invoke', 'view_metrics']);
      const clients = await sut.http().get('/admin/clients').set(bearer(token));
      expect(clients.status).toBe(403);
      expect(clients.body.detail).toBe('Insufficient permissions');
    });
  });
});
