/**
 * `npm run bench -- gateway`: what the gateway adds in front of a model server, black-box.
 *
 * The built server (`node dist/src/main.js`) runs as its own process with UPSTREAM_URL pointing at
 * a minimal OpenAI-compatible upstream (bench/support/openai-upstream.ts, also its own process);
 * every request carries a real bearer token (JWT verification, revocation check, RBAC, the rate
 * limiter counting, the usage tap and ledger). Where `taskset` exists, Tessera is pinned to CPU 0
 * and the upstream and the load to CPU 1, so the two paths compete for the same CPUs.
 *
 *   - latency: one keep-alive connection, requests one after another, alternating direct and
 *     proxied in blocks; time to first byte and to the full response, p50 and p99, for a JSON
 *     chat completion and for a streamed one (SSE, six chunks);
 *   - throughput: closed-loop load from a separate process (bench/support/load-worker.ts),
 *     --connections (32) for --seconds (6) per round, --rounds (3), best round of each; once
 *     against an upstream that answers at once (the gateway's own ceiling: every proxied request
 *     costs Tessera a whole HTTP exchange on each side while the upstream does nothing), once
 *     against the same upstream answering after 25 ms (`bench-model-25ms`), as a model does —
 *     whether Tessera holds a model server back.
 *   Tessera runs with its default settings (request logs on).
 *   --no-pin: no taskset (on a machine shared with other jobs, a pinned process waits for its
 *     one CPU at every hop, which measures the neighbours more than Tessera).
 *
 * Needs DATABASE_URL (a PostgreSQL server to create a scratch database on).
 */
import { ChildProcess, fork, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { freePort } from '../src/database/embedded-postgres';
import { writeBenchPolicy } from './support/bench-policy';
import type { LoadJob, LoadResult } from './support/load-worker';

const PIN = !process.argv.includes('--no-pin');
const TASKSET = PIN && spawnSync('taskset', ['-c', '0', 'true']).status === 0;

function pinned(cpu: number, args: string[]): [string, string[]] {
  return TASKSET
    ? ['taskset', ['-c', String(cpu), process.execPath, ...args]]
    : [process.execPath, args];
}

function option(args: string[], name: string, fallback: number): number {
  const i = args.indexOf(`--${name}`);
  const value = i >= 0 ? Number(args[i + 1]) : fallback;
  if (!Number.isFinite(value) || value <= 0) throw new Error(`--${name} must be a positive number`);
  return value;
}

async function waitForPort(port: number, child: ChildProcess, what: string): Promise<void> {
  for (let attempt = 0; attempt < 600; attempt++) {
    if (child.exitCode !== null) throw new Error(`${what} exited with ${child.exitCode}`);
    const open = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (open) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${what} did not start listening`);
}

/** One keep-alive connection measuring request by request: time to first byte and to the end. */
class Probe {
  private socket!: Socket;
  private buffer: Buffer = Buffer.alloc(0);
  private started = 0n;
  private firstByte = 0n;
  private resolve?: (timing: { ttfb: number; total: number; status: string }) => void;

  constructor(private readonly port: number) {}

  open(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.socket = connect(this.port, '127.0.0.1', () => resolve());
      this.socket.setNoDelay(true);
      this.socket.once('error', reject);
      this.socket.on('data', (chunk: Buffer) => this.onData(chunk));
    });
  }

  close(): void {
    this.socket.destroy();
  }

  send(request: Buffer): Promise<{ ttfb: number; total: number; status: string }> {
    return new Promise((resolve) => {
      this.resolve = resolve;
      this.buffer = Buffer.alloc(0);
      this.firstByte = 0n;
      this.started = process.hrtime.bigint();
      this.socket.write(request);
    });
  }

  private onData(chunk: Buffer): void {
    const now = process.hrtime.bigint();
    if (this.firstByte === 0n) this.firstByte = now;
    this.buffer = this.buffer.length ? Buffer.concat([this.buffer, chunk]) : chunk;
    const end = this.buffer.indexOf('\r\n\r\n');
    if (end < 0) return;
    const headers = this.buffer.subarray(0, end).toString('latin1');
    const length = /\r\ncontent-length:\s*(\d+)/i.exec(headers);
    const complete = length
      ? this.buffer.length >= end + 4 + Number(length[1])
      : this.buffer.subarray(this.buffer.length - 5).toString('latin1') === '0\r\n\r\n';
    if (!complete) return;
    const resolve = this.resolve;
    this.resolve = undefined;
    resolve?.({
      ttfb: Number(this.firstByte - this.started) / 1e6,
      total: Number(now - this.started) / 1e6,
      status: headers.slice(9, 12),
    });
  }
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

function httpRequest(path: string, body: string, auth?: string): Buffer {
  return Buffer.from(
    `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: keep-alive\r\n` +
      `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
      (auth ? `Authorization: Bearer ${auth}\r\n` : '') +
      `\r\n${body}`,
  );
}

interface LatencyRow {
  ttfb50: number;
  ttfb99: number;
  full50: number;
  full99: number;
}

async function latency(
  directPort: number,
  proxiedPort: number,
  token: string,
  stream: boolean,
  samples: number,
): Promise<{ direct: LatencyRow; proxied: LatencyRow }> {
  const body = JSON.stringify({
    model: 'bench-model',
    stream,
    messages: [{ role: 'user', content: 'Say something about foxes.' }],
  });
  const direct = new Probe(directPort);
  const proxied = new Probe(proxiedPort);
  await direct.open();
  await proxied.open();
  const requests = {
    direct: httpRequest('/v1/chat/completions', body),
    proxied: httpRequest('/v1/chat/completions', body, token),
  };
  const timings = {
    direct: { ttfb: [] as number[], total: [] as number[] },
    proxied: { ttfb: [] as number[], total: [] as number[] },
  };
  // Warm-up (JIT, connection pools, the verified-token cache), then alternating blocks of 50.
  for (let i = 0; i < 300; i++) {
    await direct.send(requests.direct);
    await proxied.send(requests.proxied);
  }
  for (let done = 0; done < samples; done += 50) {
    for (const side of ['direct', 'proxied'] as const) {
      const probe = side === 'direct' ? direct : proxied;
      for (let i = 0; i < 50; i++) {
        const timing = await probe.send(requests[side]);
        if (timing.status !== '200') throw new Error(`${side} answered ${timing.status}`);
        timings[side].ttfb.push(timing.ttfb);
        timings[side].total.push(timing.total);
      }
    }
  }
  direct.close();
  proxied.close();
  const row = (t: { ttfb: number[]; total: number[] }): LatencyRow => {
    const ttfb = [...t.ttfb].sort((a, b) => a - b);
    const total = [...t.total].sort((a, b) => a - b);
    return {
      ttfb50: percentile(ttfb, 50),
      ttfb99: percentile(ttfb, 99),
      full50: percentile(total, 50),
      full99: percentile(total, 99),
    };
  };
  return { direct: row(timings.direct), proxied: row(timings.proxied) };
}

function runLoad(worker: ChildProcess, job: LoadJob): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    worker.once('message', (result: LoadResult & { error?: string }) =>
      result.error ? reject(new Error(result.error)) : resolve(result),
    );
    worker.send(job);
  });
}

export async function main(args: string[]): Promise<void> {
  const seconds = option(args, 'seconds', 6);
  const connections = option(args, 'connections', 32);
  const rounds = option(args, 'rounds', 3);
  const samples = option(args, 'samples', 2000);
  const adminUrl = process.env.DATABASE_URL;
  if (!adminUrl)
    throw new Error('Set DATABASE_URL (a PostgreSQL server to create a scratch database on)');

  const database = `tessera_bench_gateway_${randomBytes(4).toString('hex')}`;
  const admin = new Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE "${database}"`);
  const databaseUrl = new URL(adminUrl);
  databaseUrl.pathname = `/${database}`;
  const dataDir = mkdtempSync(join(tmpdir(), 'tessera-bench-gateway-'));
  const children: ChildProcess[] = [];
  try {
    const upstreamPort = await freePort();
    const [upCmd, upArgs] = pinned(1, [
      join(__dirname, 'support', 'openai-upstream.js'),
      String(upstreamPort),
    ]);
    const upstream = spawn(upCmd, upArgs, { stdio: 'ignore' });
    children.push(upstream);
    await waitForPort(upstreamPort, upstream, 'the upstream');

    const port = await freePort();
    const secret = randomBytes(24).toString('hex');
    const [cmd, cmdArgs] = pinned(0, [join(__dirname, '..', 'src', 'main.js')]);
    const tessera = spawn(cmd, cmdArgs, {
      env: {
        PATH: process.env.PATH ?? '',
        NODE_ENV: 'development',
        PORT: String(port),
        DATABASE_URL: databaseUrl.toString(),
        DATA_DIR: dataDir,
        AUTH_POLICY_FILE: writeBenchPolicy(dataDir),
        JWT_ISSUER: 'http://tessera.bench',
        KEY_ENCRYPTION_KEY: Buffer.alloc(32, 9).toString('base64'),
        AUTH_CLIENTS_JSON: JSON.stringify({ bench: { secret, roles: ['operator'] } }),
        UPSTREAM_URL: `http://127.0.0.1:${upstreamPort}`,
      },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    children.push(tessera);
    await waitForPort(port, tessera, 'Tessera');
    const tokenResponse = await fetch(`http://127.0.0.1:${port}/oauth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'client_credentials',
        client_id: 'bench',
        client_secret: secret,
      }),
    });
    const token = ((await tokenResponse.json()) as { access_token: string }).access_token;

    const json = await latency(upstreamPort, port, token, false, samples);
    const sse = await latency(upstreamPort, port, token, true, samples);

    const loader = TASKSET
      ? fork(join(__dirname, 'support', 'load-worker.js'), {
          stdio: 'inherit',
          execPath: 'taskset',
          execArgv: ['-c', '1', process.execPath],
        })
      : fork(join(__dirname, 'support', 'load-worker.js'), { stdio: 'inherit' });
    children.push(loader);
    const job = (p: number, model: string, headers: string[]): LoadJob => ({
      port: p,
      method: 'POST',
      path: '/v1/chat/completions',
      body: JSON.stringify({
        model,
        messages: [{ role: 'user', content: 'Say something about foxes.' }],
      }),
      headers,
      connections,
      durationMs: seconds * 1000,
    });
    /** Best round of each, direct and proxied alternating. */
    const throughput = async (model: string) => {
      let direct = 0;
      let proxied = 0;
      for (let round = 0; round < rounds; round++) {
        const d = await runLoad(loader, job(upstreamPort, model, ['']));
        const p = await runLoad(loader, job(port, model, [`Authorization: Bearer ${token}`]));
        if (Object.keys(p.statuses).some((s) => s !== '200'))
          throw new Error(`proxied answers: ${JSON.stringify(p.statuses)}`);
        direct = Math.max(direct, d.rps);
        proxied = Math.max(proxied, p.rps);
      }
      return { direct, proxied, share: `${((proxied / direct) * 100).toFixed(1)}%` };
    };
    const instant = await throughput('bench-model');
    const paced = await throughput('bench-model-25ms');

    const ms = (v: number) => `${v.toFixed(3)} ms`;
    const lines = [
      `Gateway benchmark (${TASKSET ? 'Tessera on CPU 0, upstream and load on CPU 1' : 'no taskset: unpinned'}; ${samples} samples per path, ${connections} connections × ${seconds} s × ${rounds} rounds)`,
      '',
      '| measure | direct to upstream | through Tessera | added |',
      '|---|---|---|---|',
      ...(
        [
          ['JSON', json],
          ['SSE', sse],
        ] as const
      ).flatMap(([name, r]) => [
        `| ${name} time to first byte, p50 | ${ms(r.direct.ttfb50)} | ${ms(r.proxied.ttfb50)} | ${ms(r.proxied.ttfb50 - r.direct.ttfb50)} |`,
        `| ${name} time to first byte, p99 | ${ms(r.direct.ttfb99)} | ${ms(r.proxied.ttfb99)} | ${ms(r.proxied.ttfb99 - r.direct.ttfb99)} |`,
        `| ${name} full response, p50 | ${ms(r.direct.full50)} | ${ms(r.proxied.full50)} | ${ms(r.proxied.full50 - r.direct.full50)} |`,
        `| ${name} full response, p99 | ${ms(r.direct.full99)} | ${ms(r.proxied.full99)} | ${ms(r.proxied.full99 - r.direct.full99)} |`,
      ]),
      `| JSON throughput, upstream answering at once (req/s, best round) | ${instant.direct.toFixed(0)} | ${instant.proxied.toFixed(0)} | ${instant.share} of direct |`,
      `| JSON throughput, upstream answering after 25 ms (req/s, best round) | ${paced.direct.toFixed(0)} | ${paced.proxied.toFixed(0)} | ${paced.share} of direct |`,
      '',
      `Targets: < 1 ms added at p50 (JSON full response: ${ms(json.proxied.full50 - json.direct.full50)}); proxied ≥ 80% of direct (${instant.share} against an upstream answering at once, ${paced.share} against one answering after 25 ms).`,
    ];
    process.stdout.write(lines.join('\n') + '\n');
  } finally {
    for (const child of children) if (child.exitCode === null) child.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 500));
    await admin.query(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`).catch(() => undefined);
    await admin.end();
    rmSync(dataDir, { recursive: true, force: true });
  }
}
