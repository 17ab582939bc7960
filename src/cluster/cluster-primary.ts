import cluster, { Worker } from 'node:cluster';
import pino from 'pino';
import { AggregatorRegistry, type PrometheusContentType } from 'prom-client';
import type { TesseraEnv } from '../config/env.validation';
import {
  EmbeddedDatabase,
  embeddedMaxConnections,
  startEmbeddedPostgres,
} from '../database/embedded-postgres';
import { MemoryCounterStore, serveUsageLimits } from '../inference/usage-counter-store';
import { serveClusterMetrics } from '../metrics/cluster-metrics';
import { serveRateLimits } from '../rate-limit/ipc-throttler.storage';
import { MemoryThrottlerStorage } from '../rate-limit/memory-throttler.storage';

/**
 * A replacement for a worker that died is started at once, unless workers keep dying: then after
 * 1 s, doubling for each death within {@link CRASH_WINDOW_MS} of the one before, up to 30 s.
 */
const CRASH_WINDOW_MS = 60_000;
const MAX_RESTART_DELAY_MS = 30_000;
const SHUTDOWN_TIMEOUT_MS = 15_000;

/**
 * The primary of `WORKERS=N` (node:cluster): N worker processes serve one port and behave as one.
 * The primary serves no HTTP itself. It
 * - starts the embedded PostgreSQL once (when DATABASE_URL is unset) and hands its URL to the
 *   workers;
 * - starts one worker first and the others once it listens, so migrations and first-start set-up
 *   (signing key, bootstrap admin client) run once, never racing;
 * - holds the memory rate limiter's counters, and the gateway's token-limit and budget counters,
 *   for all workers (they ask over IPC; with Redis they use Redis). Revocations, keys, roles and API keys already reach every process through
 *   PostgreSQL LISTEN/NOTIFY, as they reach separate replicas;
 * - answers `/metrics` for the whole cluster (a worker asks; every worker's registry is summed);
 * - keeps the embedded PostgreSQL up (restarted when it dies, as in a single process);
 * - replaces a worker that dies once all have started (with back-off when they keep dying); a
 *   worker that dies before the cluster first listens stops all (its error is the start's);
 * - on SIGTERM/SIGINT stops every worker (each closes its app gracefully), then the database.
 */
export async function runClusterPrimary(env: TesseraEnv): Promise<void> {
  const root = pino({ level: env.logLevel });
  const logger = root.child({ context: 'Cluster' });
  let embedded: EmbeddedDatabase | undefined;
  const workerEnv: Record<string, string> = {};
  if (!env.databaseUrl) {
    logger.info(`DATABASE_URL is unset: starting embedded PostgreSQL in ${env.dataDir}/pg`);
    embedded = await startEmbeddedPostgres(
      env.dataDir,
      'tessera',
      (line) => logger.debug(line),
      (line) => logger.info(line),
      embeddedMaxConnections(env.workers, env.databasePoolSize),
    );
    embedded.supervise();
    workerEnv.DATABASE_URL = embedded.url;
  }

  const limits = new MemoryThrottlerStorage();
  const usageLimits = new MemoryCounterStore();
  const metrics = new AggregatorRegistry<PrometheusContentType>();
  let started = false;
  let lastDeathAt = 0;
  let restartDelay = 0;
  let stopping = false;
  let exitCode = 0;

  const stop = async (code: number, signal?: NodeJS.Signals): Promise<never> => {
    if (!stopping) {
      stopping = true;
      exitCode = code;
      const started = Date.now();
      // The cluster's shutdown begins and ends in the log, as a single process's does.
      if (signal)
        root
          .child({ context: 'Tessera' })
          .info(`Shutting down (${signal}): stopping the workers, each finishing its requests`);
      setTimeout(() => {
        logger.error('workers did not stop within 15 s; exiting');
        process.exit(1);
      }, SHUTDOWN_TIMEOUT_MS).unref();
      const workers = Object.values(cluster.workers ?? {}).filter((w): w is Worker => !!w);
      await Promise.all(
        workers.map(
          (worker) =>
            new Promise<void>((resolve) => {
              if (worker.isDead()) return resolve();
              worker.once('exit', () => resolve());
              worker.process.kill('SIGTERM');
            }),
        ),
      );
      if (embedded) {
        // A PostgreSQL another process started (a server on the same DATA_DIR) is left running.
        const owned = embedded.owned;
        await embedded.stop().catch((error: Error) => logger.error(error.message));
        if (owned) logger.info('Embedded PostgreSQL stopped');
      }
      if (signal)
        root.child({ context: 'Tessera' }).info(`Shut down in ${Date.now() - started} ms`);
      process.exit(exitCode);
    }
    return new Promise<never>(() => undefined);
  };

  const fork = (): Worker => {
    const worker = cluster.fork(workerEnv);
    serveRateLimits(worker, limits);
    serveUsageLimits(worker, usageLimits);
    serveClusterMetrics(worker, metrics);
    worker.once('exit', (code, signal) => {
      if (stopping) return;
      const how = signal ? `signal ${signal}` : `code ${code}`;
      if (!started) {
        logger.error(`worker ${worker.process.pid} exited (${how}) while starting; stopping`);
        void stop(1);
        return;
      }
      const now = Date.now();
      restartDelay =
        now - lastDeathAt < CRASH_WINDOW_MS
          ? Math.min(MAX_RESTART_DELAY_MS, Math.max(1000, restartDelay * 2))
          : 0;
      lastDeathAt = now;
      logger.error(
        `worker ${worker.process.pid} exited (${how}); starting a replacement` +
          (restartDelay ? ` in ${restartDelay / 1000} s` : ''),
      );
      setTimeout(() => {
        if (!stopping) fork();
      }, restartDelay);
    });
    return worker;
  };

  const listening = (worker: Worker) =>
    new Promise<void>((resolve, reject) => {
      worker.once('listening', () => resolve());
      worker.once('exit', () => reject(new Error('worker exited before listening')));
    });

  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const)
    process.on(signal, () => void stop(0, signal));

  try {
    // The first worker alone: it migrates and creates what a first start creates.
    await listening(fork());
    await Promise.all(Array.from({ length: env.workers - 1 }, () => listening(fork())));
  } catch {
    await stop(1); // the worker printed why
  }
  started = true;
  // A JSON line like every other (the workers' say who they are with context "Tessera" too).
  root
    .child({ context: 'Tessera' })
    .info(
      `Tessera listening on http://${env.host}:${env.port} with ${env.workers} workers (docs at /docs)`,
    );
}
