import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import cluster from 'node:cluster';
import { flushLogs } from './common/logger';
import { describeStartupError, listenFailure } from './common/startup-error';
import { ConfigValidationError, validateEnv } from './config/env.validation';
import { loadAuthPolicy, PolicyError } from './config/policy/auth-policy';

async function main(): Promise<void> {
  // Validate before anything else so a bad variable or policy is one clear line, not a stack trace.
  const env = validateEnv(process.env);
  loadAuthPolicy(env.authPolicyFile, env.production, env.authPolicyFileRequired);
  if (env.workers > 1 && cluster.isPrimary) {
    const { runClusterPrimary } = await import('./cluster/cluster-primary');
    return runClusterPrimary(env);
  }
  // Tracing, when configured, starts before the app's modules load (so it can instrument them).
  const stopTracing = env.otlpEndpoint
    ? await (await import('./observability/tracing')).startTracing()
    : undefined;
  const { createApp, drainHttp } = await import('./bootstrap');
  const app = await createApp();
  await app.listen({ port: env.port, host: env.host }).catch((error: unknown) => {
    throw listenFailure(error, env.host, env.port);
  });
  closeOnSignals(async () => {
    // The order matters (each step needs the next one's resources):
    // 1. stop accepting and drain: in-flight requests, and any on an open keep-alive connection,
    //    are answered with `Connection: close` (so no client's request is reset); wait until
    //    none is in flight (at most 10 s) and connections have had 2 s to come back;
    // 2. app.close(): event streams end (onModuleDestroy), then beforeApplicationShutdown hooks
    //    flush what requests buffered (usage counts, API-key last-used times, audit batches)
    //    while the database is still up, then idle connections are closed;
    // 3. onApplicationShutdown: database connections closed, then the embedded PostgreSQL.
    await drainHttp(app);
    await app.close();
    if (stopTracing) await stopTracingWithin(stopTracing, 2000);
    await flushLogs();
  });
  if (cluster.isWorker) return; // the primary says when all workers listen
  // Through the app's logger, so it is a JSON line like every other.
  new Logger('Tessera').log(`Tessera listening on http://${env.host}:${env.port} (docs at /docs)`);
}

/**
 * The last spans exported, best effort: a trace collector that is down or slow must neither fail
 * the shutdown (it exited 1, "error while shutting down: connect ECONNREFUSED") nor hold it up
 * (the exporter's retries took seconds). What is not sent within `ms` is dropped, with a warning.
 */
async function stopTracingWithin(stop: () => Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const outcome = await Promise.race([
    stop().then(
      () => undefined,
      (error: unknown) => (error as Error).message ?? String(error),
    ),
    new Promise<string>((resolve) => {
      timer = setTimeout(() => resolve(`not done within ${ms / 1000} s`), ms);
    }),
  ]);
  clearTimeout(timer);
  if (outcome !== undefined)
    new Logger('Tracing').warn(`Last spans not exported at shutdown (${outcome})`);
}

/**
 * Closes the app (and with it the embedded PostgreSQL, last) on the first SIGINT/SIGTERM and ignores
 * repeats: Ctrl-C under `npm start` delivers the signal twice (to npm, which forwards it, and to
 * node), and a second default-handled signal would kill the process mid-shutdown, orphaning the
 * embedded database. A shutdown that hangs is cut off after 15 s.
 */
function closeOnSignals(close: () => Promise<void>): void {
  let closing = false;
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(signal, () => {
      if (closing) return;
      closing = true;
      setTimeout(() => {
        process.stderr.write('Tessera: shutdown took longer than 15 s; exiting\n');
        process.exit(1);
      }, 15_000).unref();
      close().then(
        () => process.exit(0),
        (error: unknown) => {
          process.stderr.write(`Tessera: error while shutting down: ${(error as Error).message}\n`);
          process.exit(1);
        },
      );
    });
  }
}

main().catch((error: unknown) => {
  const known = error instanceof ConfigValidationError || error instanceof PolicyError;
  process.stderr.write((known ? (error as Error).message : describeStartupError(error)) + '\n');
  process.exit(1);
});
