import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import cluster from 'node:cluster';
import { flushLogs, wasLogged, writeLineNow } from './common/logger';
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
  closeOnSignals(async (signal) => {
    const started = Date.now();
    const logger = new Logger('Tessera');
    logger.log(
      signal === 'primary exited'
        ? 'Shutting down (the cluster primary exited): finishing the requests in flight'
        : `Shutting down (${signal}): finishing the requests in flight`,
    );
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
    logger.log(`Shut down in ${Date.now() - started} ms`);
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

/** Why the process shuts down: a signal, or (a cluster worker) its primary is gone. */
type ShutdownReason = NodeJS.Signals | 'primary exited';

/**
 * Closes the app (and with it the embedded PostgreSQL, last) on the first SIGINT/SIGTERM and ignores
 * repeats: Ctrl-C under `npm start` delivers the signal twice (to npm, which forwards it, and to
 * node), and a second default-handled signal would kill the process mid-shutdown, orphaning the
 * embedded database. A shutdown that hangs is cut off after 15 s.
 *
 * A cluster worker whose primary is gone (killed with SIGKILL, crashed) shuts down the same way.
 * node:cluster would end it at once (`process.exit` when the IPC channel closes): the usage counts
 * and audit events it had buffered were lost, requests in flight cut off, and nothing logged. It
 * cannot serve on anyway: new connections reach it through the primary.
 */
function closeOnSignals(close: (reason: ShutdownReason) => Promise<void>): void {
  let closing = false;
  const shutDown = (reason: ShutdownReason) => {
    if (closing) return;
    closing = true;
    setTimeout(() => {
      writeLineNow('Shutdown took longer than 15 s; exiting', { context: 'Tessera' });
      process.exit(1);
    }, 15_000).unref();
    close(reason).then(
      () => process.exit(0),
      (error: unknown) => {
        writeLineNow(`Error while shutting down: ${(error as Error).message}`, {
          context: 'Tessera',
        });
        process.exit(1);
      },
    );
  };
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const)
    process.on(signal, () => shutDown(signal));
  const worker = cluster.worker;
  if (worker)
    worker.on('disconnect', () => {
      // Emitted by node:cluster just before its own `process.exit`, which it skips for a worker
      // that "exited after disconnect": mark it so, and shut down gracefully instead.
      worker.exitedAfterDisconnect = true;
      if (!closing)
        new Logger('Tessera').warn(
          'The cluster primary is gone (its IPC channel closed): no new connections can reach this worker',
        );
      shutDown('primary exited');
    });
}

/**
 * A failed start is one JSON line (fatal) on stdout, as every log line is: a bad variable or
 * policy file names the variable (`"variable":"ACCESS_TOKEN_TTL"`); what Nest has logged already
 * (an unreachable database, while the app was created) is not written a second time.
 */
main().catch((error: unknown) => {
  if (!wasLogged(error)) {
    const fields: Record<string, unknown> = { context: 'Tessera' };
    let message: string;
    if (error instanceof ConfigValidationError) {
      fields.variable = error.variable;
      message = error.message;
    } else if (error instanceof PolicyError) {
      // The policy file's problems name the file and line; the line names the variable too.
      fields.variable = 'AUTH_POLICY_FILE';
      message = error.message.startsWith('AUTH_POLICY_FILE')
        ? error.message
        : `AUTH_POLICY_FILE ${error.message}`;
    } else message = describeStartupError(error);
    writeLineNow(message, fields);
  }
  process.exit(1);
});
