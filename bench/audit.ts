/**
 * `npm run bench -- audit`: the audit trail's two costs.
 *
 * 1. Sustained write rate into PostgreSQL: `AuditService.record` called as fast as the caller
 *    can (with a back-pressure wait only when the buffer is deep), until N events are stored —
 *    batched multi-row INSERTs, the chain head locked per batch, hashes computed — then the same
 *    with two writers (two replicas' worth) appending to the one chain at once. Target ≥ 10,000/s.
 * 2. Request-path cost, black-box (load from a second process over HTTP): the guarded
 *    `POST /v1/infer` against a twin route with the same guards and handler that also records one
 *    audit event per request (`POST /bench/audited-infer`). Target: ≤ 5% fewer requests/s.
 *
 * Options: --events N (default 200000), --seconds N (8), --connections N (32), --rounds N (3).
 * Uses DATABASE_URL's server for a throw-away database (or the embedded PostgreSQL).
 */
import { Body, Controller, HttpCode, Module, Post } from '@nestjs/common';
import { fork, ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { DataSource } from 'typeorm';
import { Authenticated } from '../src/access/authenticated.decorator';
import { CurrentPrincipal } from '../src/access/current-principal.decorator';
import type { Principal } from '../src/access/principal';
import { AppModule } from '../src/app.module';
import { AuditService } from '../src/audit/audit.service';
import { AuditWriter, PreparedEvent } from '../src/audit/audit-writer';
import { ChainAppender } from '../src/audit/chain-appender';
import { createApp } from '../src/bootstrap';
import { InferBody, InferBodyPipe } from '../src/inference/dto/infer-body.pipe';
import { UsageModule } from '../src/usage/usage.module';
import { UsageService } from '../src/usage/usage.service';
import { OAuthService } from '../src/oauth/oauth.service';
import { writeBenchPolicy } from './support/bench-policy';
import { cpuSeconds, pgrep } from './support/harness';
import type { LoadJob, LoadResult } from './support/load-worker';

/** Time spent inside `AuditService.record` by the audited route's requests (ns), and calls. */
const onRequestPath = { nanos: 0n, calls: 0 };

@Controller('bench')
class AuditedInferController {
  constructor(
    private readonly audit: AuditService,
    private readonly usage: UsageService,
  ) {}

  /**
   * /v1/infer's guards, body pipe, usage count and answer, plus one audit event per request (not
   * awaited).
   */
  @Post('audited-infer')
  @HttpCode(200)
  @Authenticated({ permission: 'invoke' })
  infer(@Body(InferBodyPipe) dto: InferBody, @CurrentPrincipal() who: Principal) {
    this.usage.record(who.subject, 'POST /bench/audited-infer');
    const before = process.hrtime.bigint();
    void this.audit.record({
      action: 'bench.invoke',
      outcome: 'success',
      actor: who.subject,
      actorMethod: who.method,
      target: '/bench/audited-infer',
      details: { prompt_length: dto.prompt.length },
    });
    onRequestPath.nanos += process.hrtime.bigint() - before;
    onRequestPath.calls += 1;
    return {
      ok: true,
      prompt: dto.prompt,
      sub: who.subject,
      scope: who.scopes.join(' '),
      jti: who.tokenId,
      kid: who.keyId,
      exp: who.expiresAt,
    };
  }
}

@Module({ imports: [AppModule, UsageModule], controllers: [AuditedInferController] })
class BenchModule {}

function option(args: string[], name: string, fallback: number): number {
  const index = args.indexOf(`--${name}`);
  return index >= 0 ? Number(args[index + 1]) : fallback;
}

function ask<T>(child: ChildProcess, message: unknown): Promise<T> {
  return new Promise((resolve, reject) => {
    child.once('message', (reply) => {
      const error = (reply as { error?: string }).error;
      if (error) reject(new Error(error));
      else resolve(reply as T);
    });
    child.send(message as object);
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** CPU seconds used so far by each PostgreSQL process on this machine (none when none runs here). */
function postgresCpuSeconds(): Map<number, number> {
  return new Map(pgrep('-x', 'postgres').map((pid) => [pid, cpuSeconds(pid)]));
}

/**
 * The PostgreSQL CPU seconds used since `start`: by the processes running now (one started
 * meanwhile, an autovacuum worker, counts from zero; one that ended meanwhile is not counted).
 */
function postgresCpuSince(start: Map<number, number>): number {
  let used = 0;
  for (const [pid, seconds] of postgresCpuSeconds()) used += seconds - (start.get(pid) ?? 0);
  return used;
}

/**
 * Records `count` events through `record`, waiting only while more than 50,000 are buffered.
 * Returns the events stored per second and the caller's own time per `record` call in µs (what a
 * request that records an event pays on its path: the writer's work happens later).
 */
async function sustained(
  count: number,
  record: (i: number) => void,
  depth: () => number,
  flush: () => Promise<void>,
): Promise<{ rate: number; callerMicros: number }> {
  const started = process.hrtime.bigint();
  let inRecord = 0n;
  for (let i = 0; i < count; i++) {
    const before = process.hrtime.bigint();
    record(i);
    inRecord += process.hrtime.bigint() - before;
    if (i % 1000 === 0) while (depth() > 50_000) await sleep(1);
  }
  await flush();
  return {
    rate: count / (Number(process.hrtime.bigint() - started) / 1e9),
    callerMicros: Number(inRecord) / 1e3 / count,
  };
}

export async function main(args: string[]): Promise<void> {
  const events = option(args, 'events', 200_000);
  const seconds = option(args, 'seconds', 8);
  const connections = option(args, 'connections', 32);
  const rounds = option(args, 'rounds', 3);
  const dataDir = mkdtempSync(join(tmpdir(), 'tessera-bench-audit-'));
  const serverUrl = process.env.DATABASE_URL;
  let databaseUrl: string | undefined;
  const name = `tessera_bench_${randomBytes(4).toString('hex')}`;
  if (serverUrl) {
    const admin = new Client({ connectionString: serverUrl });
    await admin.connect();
    await admin.query(`CREATE DATABASE "${name}"`);
    await admin.end();
    const url = new URL(serverUrl);
    url.pathname = `/${name}`;
    databaseUrl = url.toString();
  }
  Object.assign(process.env, {
    NODE_ENV: 'development',
    LOG_LEVEL: 'silent',
    DATA_DIR: dataDir,
    AUTH_POLICY_FILE: writeBenchPolicy(dataDir),
    JWT_ISSUER: 'http://tessera.bench',
    KEY_ENCRYPTION_KEY: randomBytes(32).toString('base64'),
    AUDIT_BUFFER_MAX: '1000000',
    AUTH_CLIENTS_JSON: JSON.stringify({
      'bench-client': { secret: 'bench-secret-0123456789abcdef', roles: ['operator'] },
    }),
  });
  if (databaseUrl) process.env.DATABASE_URL = databaseUrl;
  else delete process.env.DATABASE_URL;

  const app = await createApp({ logger: false, module: BenchModule });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const port = (app.getHttpServer().address() as { port: number }).port;
  const loader = fork(join(__dirname, 'support', 'load-worker.js'), { stdio: 'inherit' });
  try {
    const audit = app.get(AuditService);
    process.stdout.write(
      `audit benchmark (${cpus().length} CPUs; ${events} events; ${seconds}s per HTTP measurement, ${connections} connections, ${rounds} rounds)\n`,
    );

    // 1a. One writer: AuditService.record (scrub, sanitize, buffer) → batched INSERTs.
    const cpuBefore = process.cpuUsage();
    const { rate: one, callerMicros } = await sustained(
      events,
      (i) =>
        void audit.record({
          action: 'bench.event',
          outcome: i % 7 === 0 ? 'failure' : 'success',
          actor: `client-${i % 100}`,
          actorMethod: 'jwt',
          target: `target-${i}`,
          ip: '127.0.0.1',
          userAgent: 'bench',
          requestId: `req-${i}`,
          details: { i, scope: 'model:invoke', nested: { a: 1 } },
        }),
      () => audit.bufferDepth,
      () => audit.flush(),
    );
    const cpu = process.cpuUsage(cpuBefore);
    const cpuPerEvent = (cpu.user + cpu.system) / events;
    process.stdout.write(
      `  one writer:  ${one.toFixed(0)} events/s stored; this process's CPU: ${cpuPerEvent.toFixed(1)} µs per event (record, hash, insert parameters), of which ${callerMicros.toFixed(1)} µs in record() on the caller\n`,
    );
    const db = app.get(DataSource);
    const [{ n: stored }] = (await db.query('SELECT count(*)::int AS n FROM audit_events')) as [
      { n: number },
    ];
    if (stored < events) throw new Error(`only ${stored} of ${events} events stored`);

    // The database's own ceiling right now: the same rows and indexes, generated in SQL (in
    // 10,000-row statements, each well inside the app's query timeout on a slow machine).
    await db.query('CREATE TABLE bench_ceiling (LIKE audit_events INCLUDING ALL)');
    const ceilingStarted = process.hrtime.bigint();
    for (let from = 1; from <= 100_000; from += 10_000)
      await db.query(
        `INSERT INTO bench_ceiling (id, at, action, outcome, actor, actor_method, target, ip,
           user_agent, request_id, details, prev_hash, hash)
         SELECT g, now(), 'bench.event', 'success', 'client-' || (g % 100), 'jwt', 'target-' || g,
           '127.0.0.1', 'bench', 'req-' || g, jsonb_build_object('i', g, 'scope', 'model:invoke'),
           md5(g::text) || md5(g::text), md5(g::text) || md5((g + 1)::text)
         FROM generate_series($1::int, $1::int + 9999) g`,
        [from],
      );
    const ceiling = 100_000 / (Number(process.hrtime.bigint() - ceilingStarted) / 1e9);
    await db.query('DROP TABLE bench_ceiling');
    process.stdout.write(
      `  database ceiling (INSERT … SELECT in SQL): ${ceiling.toFixed(0)} rows/s\n`,
    );

    // 1b. Two writers on separate connection pools, one chain (what two replicas do).
    const pools = await Promise.all(
      [0, 1].map(() =>
        new DataSource({
          type: 'postgres',
          url: databaseUrl ?? (app.get(DataSource).options as { url: string }).url,
        }).initialize(),
      ),
    );
    const silent = { log: () => undefined, warn: () => undefined, error: () => undefined };
    const noop = { written: () => undefined, spilled: () => undefined, dropped: () => undefined };
    const writers = pools.map(
      (pool) =>
        new AuditWriter(
          new ChainAppender(pool),
          { bufferMax: 1_000_000, spillDir: join(dataDir, 'spill') },
          noop,
          silent,
        ),
    );
    const event = (i: number): PreparedEvent => ({
      at: new Date().toISOString(),
      action: 'bench.event',
      outcome: 'success',
      actor: `client-${i % 100}`,
      actorMethod: 'jwt',
      target: `target-${i}`,
      ip: '127.0.0.1',
      userAgent: 'bench',
      requestId: `req-${i}`,
      details: { i },
    });
    const half = Math.floor(events / 2);
    const started = process.hrtime.bigint();
    await Promise.all(
      writers.map((writer) =>
        sustained(
          half,
          (i) => writer.enqueue(event(i)),
          () => writer.depth,
          () => writer.flush(600_000, false),
        ),
      ),
    );
    const two = (2 * half) / (Number(process.hrtime.bigint() - started) / 1e9);
    process.stdout.write(`  two writers: ${two.toFixed(0)} events/s stored (one chain)\n`);
    await Promise.all(pools.map((p) => p.destroy()));
    const verified = await audit.verify();
    process.stdout.write(
      `  chain after the runs: ${verified.intact ? 'intact' : 'BROKEN'} (${verified.checked} events)\n`,
    );

    // 2. Request path: /v1/infer vs the same route recording one event per request.
    const token = (
      await app.get(OAuthService).clientCredentials({
        clientId: 'bench-client',
        clientSecret: 'bench-secret-0123456789abcdef',
      })
    ).access_token;
    const body = JSON.stringify({ prompt: 'Hello from the benchmark' });
    const load = (path: string, durationMs: number) =>
      ask<LoadResult>(loader, {
        port,
        method: 'POST',
        path,
        body,
        connections,
        headers: [`Authorization: Bearer ${token}`],
        durationMs,
      } satisfies LoadJob);
    const best: Record<string, number> = {};
    // Server CPU per request (this process; the load comes from another): steadier than req/s
    // on a shared machine, and what auditing adds to each request is the difference.
    const cpuPerRequest: Record<string, number> = {};
    // And PostgreSQL's (its processes on this machine, when it runs here): on a machine whose
    // cores the database shares, storing an event costs its CPU too.
    const databaseCpuPerRequest: Record<string, number> = {};
    // The audited requests' own time in record() (serialize, buffer): the request path's share.
    let recordMicros = Infinity;
    for (let round = 1; round <= rounds; round++) {
      for (const path of ['/v1/infer', '/bench/audited-infer']) {
        await load(path, 1000);
        const cpuStart = process.cpuUsage();
        const databaseStart = postgresCpuSeconds();
        onRequestPath.nanos = 0n;
        onRequestPath.calls = 0;
        const result = await load(path, seconds * 1000);
        const inRecord = onRequestPath.calls
          ? Number(onRequestPath.nanos) / 1e3 / onRequestPath.calls
          : undefined;
        if (inRecord !== undefined) recordMicros = Math.min(recordMicros, inRecord);
        await audit.flush(); // the writing of this run's events is part of its cost
        const used = process.cpuUsage(cpuStart);
        const perRequest = (used.user + used.system) / result.requests;
        const databasePerRequest =
          (postgresCpuSince(databaseStart) * 1e6) / Math.max(1, result.requests);
        cpuPerRequest[path] = Math.min(cpuPerRequest[path] ?? Infinity, perRequest);
        databaseCpuPerRequest[path] = Math.min(
          databaseCpuPerRequest[path] ?? Infinity,
          databasePerRequest,
        );
        best[path] = Math.max(best[path] ?? 0, result.rps);
        const statuses = Object.entries(result.statuses)
          .map(([s, n]) => `${s}×${n}`)
          .join(' ');
        process.stdout.write(
          `  round ${round} ${path.padEnd(22)} ${result.rps.toFixed(0).padStart(7)} req/s  ${perRequest.toFixed(0)} µs CPU/request (PostgreSQL ${databasePerRequest.toFixed(0)} µs${inRecord === undefined ? '' : `; ${inRecord.toFixed(1)} µs in record()`})  ${statuses}\n`,
        );
      }
    }
    const ratio = best['/bench/audited-infer'] / best['/v1/infer'];
    const cpuCost = cpuPerRequest['/bench/audited-infer'] / cpuPerRequest['/v1/infer'] - 1;
    process.stdout.write(
      [
        '',
        '| measure | result | target |',
        '|---|---|---|',
        `| sustained audit writes, one writer | ${one.toFixed(0)} events/s (${((100 * one) / ceiling).toFixed(0)}% of the database ceiling, ${ceiling.toFixed(0)} rows/s) | ≥ 10,000/s |`,
        `| sustained audit writes, two writers on one chain | ${two.toFixed(0)} events/s | ≥ 10,000/s |`,
        `| guarded POST /v1/infer | ${best['/v1/infer'].toFixed(0)} req/s | |`,
        `| guarded POST /v1/infer: server CPU per request | ${cpuPerRequest['/v1/infer'].toFixed(0)} µs | |`,
        `| same route + one audit event per request | ${best['/bench/audited-infer'].toFixed(0)} req/s (${(100 * ratio).toFixed(1)}% of the throughput); ${cpuPerRequest['/bench/audited-infer'].toFixed(0)} µs CPU per request (+${(100 * cpuCost).toFixed(1)}%) | cost ≤ 5% |`,
        `| of which on the request path: record() (serialize, buffer) | ${recordMicros.toFixed(1)} µs per request (${((100 * recordMicros) / cpuPerRequest['/v1/infer']).toFixed(1)}% of the plain request's CPU; ${callerMicros.toFixed(1)} µs in the sustained run); the rest is the writer and PostgreSQL after the answer, on the same cores | |`,
        `| PostgreSQL's CPU per request (its processes on this machine), plain / audited | ${databaseCpuPerRequest['/v1/infer'].toFixed(0)} µs / ${databaseCpuPerRequest['/bench/audited-infer'].toFixed(0)} µs | |`,
        '',
      ].join('\n'),
    );
  } finally {
    loader.kill();
    await app.close();
    if (serverUrl) {
      const admin = new Client({ connectionString: serverUrl });
      await admin.connect();
      await admin.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      await admin.end();
    }
    rmSync(dataDir, { recursive: true, force: true });
  }
}
