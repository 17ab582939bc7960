import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, IncomingHttpHeaders, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../src/database/embedded-postgres';
import { startTestApp, TestApp } from './support/app';
import { bearer, CLIENTS, tokenFor } from './support/factories';

const API_KEY = 'nginx-test-agent-key-0123456789';

function nginxBinary(): string {
  for (const candidate of ['/usr/sbin/nginx', 'nginx']) {
    const probe = spawnSync(candidate, ['-v']);
    if (probe.status === 0) return candidate;
  }
  throw new Error(
    'nginx is not installed: apt-get install -y nginx (the test drives a real nginx, it does not skip)',
  );
}

async function waitFor(url: string, deadline: number): Promise<void> {
  for (;;) {
    try {
      await fetch(url);
      return;
    } catch {
      if (Date.now() > deadline) throw new Error(`${url} did not answer`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

/**
 * deploy/nginx-auth-request.conf, as shipped, run by a real nginx (our own process, on free
 * ports, in a temporary prefix) in front of a small API, with Tessera answering auth_request.
 */
describe('nginx auth_request in front of an API (deploy/nginx-auth-request.conf)', () => {
  let sut: TestApp;
  let api: Server;
  let nginx: ChildProcess;
  let prefix: string;
  let base: string;
  let nginxLog = '';
  const received: IncomingHttpHeaders[] = [];

  beforeAll(async () => {
    const binary = nginxBinary();
    sut = await startTestApp({ env: { AGENT_KEY_NGINX: API_KEY } });
    api = createServer((req, res) => {
      received.push(req.headers);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ path: req.url, subject: req.headers['x-auth-subject'] ?? null }));
    });
    await new Promise<void>((r) => api.listen(0, '127.0.0.1', r));
    const apiPort = (api.address() as AddressInfo).port;
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;

    prefix = mkdtempSync(join(tmpdir(), 'tessera-nginx-'));
    mkdirSync(join(prefix, 'logs'));
    const site = readFileSync(join(__dirname, '..', 'deploy', 'nginx-auth-request.conf'), 'utf8')
      .replace('server tessera:3000;', `server ${new URL(sut.url).host};`)
      .replace('server my-api:8080;', `server 127.0.0.1:${apiPort};`)
      .replace('listen 8081;', `listen 127.0.0.1:${port};`);
    writeFileSync(join(prefix, 'site.conf'), site);
    const temp = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']
      .map((name) => `${name}_temp_path ${join(prefix, name)};`)
      .join('\n  ');
    writeFileSync(
      join(prefix, 'nginx.conf'),
      `${process.getuid?.() === 0 ? 'user root;' : ''}
worker_processes 1;
pid ${join(prefix, 'nginx.pid')};
error_log ${join(prefix, 'logs', 'error.log')} warn;
events { worker_connections 64; }
http {
  access_log off;
  ${temp}
  include ${join(prefix, 'site.conf')};
}
`,
    );
    nginx = spawn(binary, ['-p', prefix, '-c', join(prefix, 'nginx.conf'), '-g', 'daemon off;'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    nginx.stderr?.on('data', (d) => (nginxLog += d));
    await waitFor(base, Date.now() + 10_000).catch((error: Error) => {
      throw new Error(`${error.message}: ${nginxLog}`);
    });
  });

  afterAll(async () => {
    if (nginx && nginx.exitCode === null) {
      const exited = new Promise((r) => nginx.once('exit', r));
      nginx.kill('SIGQUIT');
      await exited;
    }
    if (prefix) rmSync(prefix, { recursive: true, force: true });
    await new Promise((r) => api?.close(r));
    await sut?.close();
  });

  it('refuses a request without a credential with 401, before the API sees it', async () => {
    const before = received.length;
    const response = await fetch(`${base}/orders`);
    expect(response.status).toBe(401);
    expect(received.length).toBe(before);
  });

  it('passes a caller with a valid token, naming the subject and dropping the credential', async () => {
    const token = await tokenFor(sut.url, CLIENTS.operator);
    const response = await fetch(`${base}/orders?id=7`, {
      headers: { ...bearer(token), 'x-auth-subject': 'spoofed-admin' },
    });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ path: '/orders?id=7', subject: CLIENTS.operator.id });
    const headers = received[received.length - 1];
    expect(headers.authorization).toBeUndefined();
    expect(headers['x-auth-client-id']).toBe(CLIENTS.operator.id);
    expect(headers['x-auth-roles']).toBe('operator');
  });

  it('passes an API key sent in X-API-Key', async () => {
    const response = await fetch(`${base}/orders`, { headers: { 'x-api-key': API_KEY } });
    expect(response.status).toBe(200);
    expect((await response.json()).subject).toBeTruthy();
    expect(received[received.length - 1]['x-api-key']).toBeUndefined();
  });

  it('answers 403 for a valid caller without the permission, 401 for a forged token', async () => {
    const viewer = await tokenFor(sut.url, CLIENTS.viewer);
    expect((await fetch(`${base}/orders`, { headers: bearer(viewer) })).status).toBe(403);
    const forged = (await tokenFor(sut.url, CLIENTS.operator)).slice(0, -4) + 'AAAA';
    expect((await fetch(`${base}/orders`, { headers: bearer(forged) })).status).toBe(401);
  });
});
