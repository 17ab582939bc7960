import { readFileSync } from 'node:fs';
import type { Page } from 'playwright-core';
import request from 'supertest';
import { startTestApp, TestApp } from './support/app';
import {
  Browser,
  CHROMIUM_PATH,
  chromiumAvailable,
  launchBrowser,
  screenshot,
} from './support/browser';
import { ensureConsoleBuilt } from './support/console';
import { bearer, CLIENTS, createClient, createUser, tokenFor } from './support/factories';
import { policyFile, standardPolicy } from './support/policy';

type TestUser = Awaited<ReturnType<typeof createUser>>;

/*
 * The console in a real browser (Debian's chromium driven by playwright-core) against a real
 * Tessera: every click goes through the same admin API, and every effect is checked from
 * outside with plain HTTP. Screenshots of each page land in test-results/console/.
 * Without chromium the suite is skipped with a warning, except under CI (.ci/run installs it).
 */
const available = chromiumAvailable();
if (!available && process.env.CI) throw new Error(`chromium not found at ${CHROMIUM_PATH}`);
if (!available)
  process.stderr.write(
    `console browser tests skipped: no chromium at ${CHROMIUM_PATH} (apt-get install chromium)\n`,
  );
const describeBrowser = available ? describe : describe.skip;

function claimsOf(token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString('utf8'));
}

describeBrowser('web console in a browser', () => {
  let sut: TestApp;
  let admin: string;
  let ada: TestUser;
  let olive: TestUser;
  let aude: TestUser;
  let browser: Browser;
  let page: Page;
  let clientSecret: string;
  /** Anything the page's Content-Security-Policy blocked (there must be nothing). */
  const blocked: string[] = [];

  beforeAll(async () => {
    ensureConsoleBuilt();
    sut = await startTestApp({ env: { AUTH_POLICY_FILE: policyFile(standardPolicy()) } });
    admin = await tokenFor(sut.url, CLIENTS.admin);
    ada = await createUser(sut, admin, { roles: ['admin'], name: 'Ada Admin' });
    olive = await createUser(sut, admin, { roles: ['operator'], name: 'Olive Operator' });
    const role = await sut
      .http()
      .post('/admin/roles')
      .set(bearer(admin))
      .send({ name: 'auditor', permissions: ['keys:read', 'audit:read'] });
    expect(role.status).toBe(201);
    aude = await createUser(sut, admin, { roles: ['auditor'], name: 'Aude Auditor' });
    browser = await launchBrowser(1280, 800);
    page = browser.page;
    page.on('console', (message) => {
      if (/Content Security Policy|Refused to (load|execute|apply)/i.test(message.text()))
        blocked.push(message.text());
    });
    await browser.context.grantPermissions(['clipboard-read', 'clipboard-write'], {
      origin: sut.url,
    });
  });

  afterAll(async () => {
    await browser?.close();
    await sut?.close();
  });

  const go = async (path: string, heading: string) => {
    await page
      .getByRole('navigation', { name: 'Console pages' })
      .getByRole('link', { name: heading })
      .click();
    await page.getByRole('heading', { level: 1, name: heading }).waitFor();
  };

  async function signIn(user: TestUser) {
    await page.goto(`${sut.url}/console/`);
    await page.getByLabel('Email').fill(user.email);
    await page.getByLabel('Password').fill(user.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
  }

  it('signs in as a person, and the session survives a reload through the HttpOnly cookie only', async () => {
    await page.goto(`${sut.url}/console/`);
    await page.getByRole('heading', { name: 'Tessera console' }).waitFor();
    await screenshot(page, 'signin');
    await signIn(ada);
    await page.getByRole('heading', { level: 1, name: 'Clients' }).waitFor();
    await page.reload();
    await page.getByRole('heading', { level: 1, name: 'Clients' }).waitFor();
    await page.getByText(ada.email).waitFor();
    const storage = await page.evaluate(() => ({
      cookie: document.cookie,
      local: window.localStorage.length,
      session: window.sessionStorage.length,
    }));
    expect(storage).toEqual({ cookie: '', local: 0, session: 0 });
    const cookies = await browser.context.cookies(sut.url + '/console/api/session');
    expect(cookies).toEqual([
      expect.objectContaining({
        name: 'tessera_console_session',
        httpOnly: true,
        sameSite: 'Strict',
        path: '/console/api/session',
      }),
    ]);
  });

  it('creates a client and shows its secret once, with a copy button', async () => {
    await page.getByRole('button', { name: 'Create client' }).click();
    const dialog = page.getByRole('dialog', { name: 'Create client' });
    await dialog.getByLabel('Client id').fill('ci-service');
    await dialog.getByLabel('Name').fill('CI service');
    await dialog.getByLabel('Roles').fill('operator');
    await dialog.getByLabel('Models').fill('tessera-echo');
    await dialog.getByLabel('Rate limit').fill('50/minute');
    await dialog.getByRole('button', { name: 'Create', exact: true }).click();
    const secretBox = page.getByTestId('secret-value');
    await secretBox.waitFor();
    clientSecret = (await secretBox.textContent())!.trim();
    expect(clientSecret.length).toBeGreaterThan(20);
    await page.getByRole('button', { name: 'Copy' }).click();
    await page.getByText('Copied to the clipboard.').waitFor();
    expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(clientSecret);
    await screenshot(page, 'clients-secret');
    // The secret works...
    const token = await request(sut.url)
      .post('/oauth/token')
      .auth('ci-service', clientSecret)
      .type('form')
      .send({ grant_type: 'client_credentials' });
    expect(token.status).toBe(200);
    // ...and is never shown again.
    await page.getByRole('button', { name: 'I have stored it' }).click();
    await page.reload();
    await page.getByRole('row', { name: /ci-service/ }).waitFor();
    expect(await page.content()).not.toContain(clientSecret);
    await screenshot(page, 'clients');
  });

  it('edits a client’s roles, scopes and models', async () => {
    await page.getByRole('button', { name: 'Edit ci-service' }).click();
    const dialog = page.getByRole('dialog', { name: 'Edit client ci-service' });
    await dialog.getByLabel('Roles').fill('operator, viewer');
    await dialog.getByLabel('Scopes').fill('model:invoke reports:read');
    await dialog.getByLabel('Models').fill('tessera-echo, llama-*');
    await dialog.getByRole('button', { name: 'Save' }).click();
    await dialog.waitFor({ state: 'hidden' });
    const client = await sut.http().get('/admin/clients/ci-service').set(bearer(admin));
    expect(client.body).toMatchObject({
      roles: ['operator', 'viewer'],
      scopes: ['model:invoke', 'reports:read'],
    });
    // Models and limits exist once the gateway's fields are on this server.
    if ('models' in client.body) {
      expect(client.body).toMatchObject({
        models: ['tessera-echo', 'llama-*'],
        rate_limit: '50/minute',
      });
      await page
        .getByRole('row', { name: /ci-service/ })
        .getByText('50/minute requests')
        .waitFor();
    }
    await page
      .getByRole('row', { name: /ci-service/ })
      .getByText('reports:read')
      .waitFor();
  });

  it('shows an API error with its detail', async () => {
    await page.getByRole('button', { name: 'Create client' }).click();
    const dialog = page.getByRole('dialog', { name: 'Create client' });
    await dialog.getByLabel('Client id').fill('ci-service');
    await dialog.getByRole('button', { name: 'Create', exact: true }).click();
    await dialog
      .getByRole('alert')
      .getByText('A client with id "ci-service" already exists')
      .waitFor();
    await dialog.getByRole('button', { name: 'Cancel' }).click();
  });

  it('is usable with the keyboard: skip link, visible focus, dialogs that trap focus and close on Escape', async () => {
    await page.goto(`${sut.url}/console/clients`);
    await page.getByRole('heading', { level: 1, name: 'Clients' }).waitFor();
    await page.keyboard.press('Tab');
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe('Skip to content');
    await page.keyboard.press('Enter');
    await page.keyboard.press('Tab');
    const focused = await page.evaluate(() => {
      const element = document.activeElement as HTMLElement;
      const style = getComputedStyle(element);
      return {
        label: element.id && document.querySelector(`label[for="${element.id}"]`)?.textContent,
        outline: style.outlineStyle,
        width: style.outlineWidth,
      };
    });
    expect(focused).toEqual({ label: 'Filter', outline: 'solid', width: '3px' });
    await page.keyboard.press('Tab');
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe('Create client');
    await page.keyboard.press('Enter');
    const dialog = page.getByRole('dialog', { name: 'Create client' });
    await dialog.waitFor();
    expect(await page.evaluate(() => !!document.activeElement?.closest('dialog'))).toBe(true);
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'hidden' });
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe('Create client');
  });

  it('creates and revokes an API key', async () => {
    await go('api-keys', 'API keys');
    await page.getByRole('button', { name: 'Create API key' }).click();
    const dialog = page.getByRole('dialog', { name: 'Create API key' });
    await dialog.getByLabel('Name').fill('batch-agent');
    await dialog.getByLabel('Roles').fill('operator');
    await dialog.getByRole('button', { name: 'Create', exact: true }).click();
    const key = (await page.getByTestId('secret-value').textContent())!.trim();
    expect(key).toMatch(/^tsk_live_/);
    const infer = () =>
      request(sut.url).post('/v1/infer').set('X-API-Key', key).send({ prompt: 'hello' });
    expect((await infer()).status).toBe(200);
    await page.getByRole('button', { name: 'I have stored it' }).click();
    const row = page.getByRole('row', { name: /batch-agent/ });
    await row.getByText(key.slice(0, 13)).waitFor();
    await screenshot(page, 'api-keys');
    await row.getByRole('button', { name: 'Revoke batch-agent' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Revoke key' }).click();
    await row.getByText('revoked').waitFor();
    const refused = await infer();
    expect(refused.status).toBe(401);
  });

  it('soft-rotates the signing keys; hard rotation asks for a typed confirmation that says what breaks', async () => {
    const before = await sut.http().get('/admin/keys').set(bearer(admin));
    const active = before.body.find((k: { status: string }) => k.status === 'active').kid;
    await go('keys', 'Signing keys');
    await page.getByRole('button', { name: 'Soft rotate' }).click();
    await page
      .getByRole('dialog', { name: 'Soft rotation' })
      .getByRole('button', { name: 'Rotate softly' })
      .click();
    await page.getByText(/Soft rotation done/).waitFor();
    const after = await sut.http().get('/admin/keys').set(bearer(admin));
    const states = Object.fromEntries(
      after.body.map((k: { kid: string; status: string }) => [k.kid, k.status]),
    );
    expect(states[active]).toBe('retiring');
    expect(Object.values(states).filter((s) => s === 'active')).toHaveLength(1);
    await page.locator(`tr[data-state="retiring"]`).first().waitFor();

    await page.getByRole('button', { name: 'Hard rotate…' }).click();
    const hard = page.getByRole('dialog', { name: /Hard rotation/ });
    await hard.getByText(/every access token issued so far/).waitFor();
    const confirm = hard.getByRole('button', { name: 'Rotate hard' });
    expect(await confirm.isDisabled()).toBe(true);
    await hard.getByLabel('Type "hard" to confirm').fill('hard');
    expect(await confirm.isDisabled()).toBe(false);
    await screenshot(page, 'keys-hard-rotation');
    await hard.getByRole('button', { name: 'Cancel' }).click();
    await screenshot(page, 'keys');
  });

  it('revokes a token by jti, and /v1/infer refuses it', async () => {
    const token = await tokenFor(sut.url, {
      id: 'ci-service',
      secret: clientSecret,
      roles: ['operator'],
    });
    const jti = claimsOf(token).jti as string;
    const infer = () =>
      request(sut.url).post('/v1/infer').set(bearer(token)).send({ prompt: 'still good?' });
    expect((await infer()).status).toBe(200);
    await go('revocations', 'Revocations');
    await page.getByLabel('Token (jti)', { exact: true }).first().check();
    await page.getByRole('textbox', { name: 'Token (jti)' }).fill(jti);
    await page.getByRole('button', { name: 'Revoke', exact: true }).click();
    await page.getByText(`Revoked token (jti) ${jti}.`).waitFor();
    await page.getByRole('cell', { name: jti }).waitFor();
    const refused = await infer();
    expect(refused.status).toBe(401);
    expect(refused.body.detail).toBe('Token has been revoked');
    await screenshot(page, 'revocations');
  });

  it('filters the audit trail', async () => {
    await go('audit', 'Audit');
    await page.getByLabel('Action').fill('client.*');
    await page.getByRole('button', { name: 'Apply filters' }).click();
    await page
      .getByRole('row', { name: /client\.create/ })
      .first()
      .waitFor();
    const actions = await page.locator('tbody td[data-label="Action"]').allTextContents();
    expect(actions.length).toBeGreaterThan(0);
    expect(actions.every((a) => a.startsWith('client.'))).toBe(true);
    await page.getByRole('row', { name: /client\.create success .*ci-service/ }).waitFor();
    await screenshot(page, 'audit');

    // Chain status and export: from the audit helper's endpoints, or a clear "not available".
    const chain = page.getByRole('region', { name: 'Chain status' });
    const verify = await sut.http().get('/admin/audit/verify').set(bearer(admin));
    if (verify.status === 404) {
      await chain.getByText('Audit chain verification is not available on this server.').waitFor();
    } else {
      expect(verify.status).toBe(200);
      await chain.getByText(verify.body.intact ? 'intact' : 'broken').waitFor();
    }
    const probe = await sut.http().get('/admin/audit/export?action=client.*').set(bearer(admin));
    if (probe.status === 404) {
      await page.getByRole('button', { name: 'Export NDJSON' }).click();
      await page.getByText('Audit export is not available on this server.').waitFor();
      process.stderr.write(
        'console browser test: GET /admin/audit/verify|export absent; checked the "not available" states\n',
      );
    } else {
      expect(probe.status).toBe(200);
      const [download] = await Promise.all([
        page.waitForEvent('download'),
        page.getByRole('button', { name: 'Export NDJSON' }).click(),
      ]);
      expect(download.suggestedFilename()).toMatch(/^tessera-audit-.*\.ndjson$/);
      const lines = readFileSync((await download.path())!, 'utf8')
        .trim()
        .split('\n');
      const actions = lines.map((line) => (JSON.parse(line) as { action: string }).action);
      expect(actions).toContain('client.create');
      expect(actions.every((a) => a.startsWith('client.'))).toBe(true);
    }

    // Everything one request did, by its x-request-id.
    const requestId = `console-e2e-${Date.now()}`;
    await createClient(sut, admin, { id: 'by-request-id' }, { requestId });
    await page.getByRole('button', { name: 'Clear' }).click();
    await page.getByLabel('Request id').fill(requestId);
    await page.getByRole('button', { name: 'Apply filters' }).click();
    // The unfiltered list shows that row too: wait for the filtered list (one row), not the row.
    await page.waitForFunction(
      () => document.querySelectorAll('tbody td[data-label="Action"]').length === 1,
    );
    await page.getByRole('row', { name: /client\.create success .*by-request-id/ }).waitFor();
    expect(await page.locator('tbody td[data-label="Action"]').allTextContents()).toEqual([
      'client.create',
    ]);
  });

  it('charts usage after echo-model calls (when the server has GET /admin/usage)', async () => {
    const token = await tokenFor(sut.url, CLIENTS.operator);
    for (let i = 0; i < 3; i++) {
      const call = await request(sut.url)
        .post('/v1/chat/completions')
        .set(bearer(token))
        .send({ model: 'tessera-echo', messages: [{ role: 'user', content: `count ${i}` }] });
      expect(call.status).toBe(200);
    }
    const probe = await sut.http().get('/admin/usage?group_by=day').set(bearer(admin));
    await go('usage', 'Usage');
    if (probe.status === 404) {
      // This branch does not have the gateway's usage ledger yet: the page says so.
      await page
        .getByText('Usage reporting (GET /admin/usage) is not available on this server.')
        .waitFor();
      process.stderr.write(
        'console browser test: GET /admin/usage is absent; usage chart step checked the "not available" state\n',
      );
    } else {
      expect(probe.status).toBe(200);
      await page.getByRole('figure', { name: 'Requests chart' }).waitFor();
      await page.locator('.recharts-bar-rectangle').first().waitFor();
      await page.getByRole('button', { name: 'By model' }).click();
      await page.getByRole('cell', { name: 'tessera-echo' }).waitFor();
    }
    await screenshot(page, 'usage');
  });

  it('shows the users and roles pages', async () => {
    await go('users', 'Users');
    await page.getByRole('row', { name: new RegExp(olive.email) }).waitFor();
    await screenshot(page, 'users');
    await go('roles', 'Roles & permissions');
    await page.getByRole('row', { name: /auditor/ }).waitFor();
    await screenshot(page, 'roles');
  });

  it('works at phone width with a menu', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    await page.goto(`${sut.url}/console/clients`);
    await page.getByRole('heading', { level: 1, name: 'Clients' }).waitFor();
    const nav = page.getByRole('navigation', { name: 'Console pages' });
    expect(await nav.isVisible()).toBe(false);
    await screenshot(page, 'clients');
    await page.getByRole('button', { name: 'Menu' }).click();
    await nav.getByRole('link', { name: 'Signing keys' }).click();
    await page.getByRole('heading', { level: 1, name: 'Signing keys' }).waitFor();
    await screenshot(page, 'keys');
    for (const [path, heading] of [
      ['api-keys', 'API keys'],
      ['users', 'Users'],
      ['audit', 'Audit'],
      ['usage', 'Usage'],
      ['revocations', 'Revocations'],
      ['roles', 'Roles & permissions'],
    ]) {
      await page.goto(`${sut.url}/console/${path}`);
      await page.getByRole('heading', { level: 1, name: heading }).waitFor();
      await page.waitForLoadState('networkidle');
      await screenshot(page, path);
    }
    // Nothing scrolls sideways at 390 px.
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth);
    expect(overflow).toBeLessThanOrEqual(390);
    await page.setViewportSize({ width: 1280, height: 800 });
  });

  it('signs out, and refuses a person without admin permissions', async () => {
    await page.goto(`${sut.url}/console/`);
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('heading', { name: 'Tessera console' }).waitFor();
    expect(await browser.context.cookies(sut.url + '/console/api/session')).toEqual([]);
    await signIn(olive);
    await page
      .getByRole('alert')
      .getByText(/none of the permissions the console needs/)
      .waitFor();
    await screenshot(page, 'refused');
    // The API refuses the same person whatever a page shows.
    const login = await request(sut.url)
      .post('/auth/login')
      .send({ email: olive.email, password: olive.password });
    const clients = await request(sut.url)
      .get('/admin/clients')
      .set(bearer(login.body.access_token));
    expect(clients.status).toBe(403);
  });

  it('shows a read-only person the keys without the rotation actions, and the API refuses them', async () => {
    await signIn(aude);
    await page.getByRole('heading', { level: 1 }).waitFor();
    await go('keys', 'Signing keys');
    await page.locator('tr[data-state="active"]').waitFor();
    expect(await page.getByRole('button', { name: 'Soft rotate' }).count()).toBe(0);
    expect(await page.getByRole('button', { name: 'Hard rotate…' }).count()).toBe(0);
    await go('clients', 'Clients');
    await page.getByText('Your roles do not grant clients:manage').waitFor();
    const login = await request(sut.url)
      .post('/auth/login')
      .send({ email: aude.email, password: aude.password });
    const rotate = await request(sut.url)
      .post('/admin/keys/rotate')
      .set(bearer(login.body.access_token))
      .send({ mode: 'soft' });
    expect(rotate.status).toBe(403);
  });

  it('ran every page without a Content-Security-Policy violation', () => {
    expect(blocked).toEqual([]);
  });
});
