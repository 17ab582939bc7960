import cluster, { Worker } from 'node:cluster';
import pino from 'pino';
import type { TesseraEnv } from '../config/env.validation';
import { EmbeddedDatabase, startEmbeddedPostgres } from '../database/embedded-postgres';
import { MemoryCounterStore, serveUsageLimits } from '../inference/usage-counter-store';
import { serveRateLimits } from '../rate-limit/ipc-throttler.storage';
import { MemoryThrottlerStorage } from '../rate-limit/memory-throttler.storage';

/** A worker that dies within this long of listening is a crash loop, not a one-off: stop. */
const MIN_UPTIME_MS = 10_000;
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
 * - replaces a worker that dies after running a while; a worker that dies on start stops all;
 * - on SIGTERM/SIGINT stops every worker (each closes its app gracefully), then the database.
 */
export async function runClusterPrimary(env: TesseraEnv): Promise<void> {
  const logger = pino({ level: env.logLevel }).child({ context: 'Cluster' });
  let embedded: EmbeddedDatabase | undefined;
  const workerEnv: Record<string, string> = {};
  if (!env.databaseUrl) {
    logger.info(`DATABASE_URL is unset: starting embedded PostgreSQL in ${env.dataDir}/pg`);
    embedded = await startEmbeddedPostgres(env.dataDir, 'tessera', (line) => logger.debug(line));
    workerEnv.DATABASE_URL = embedded.url;
  }

  const limits = new MemoryThrottlerStorage();
  const usageLimits = new MemoryCounterStore();
  const listeningAt = new Map<Worker, number>();
  let stopping = false;
  let exitCode = 0;

  const stop = async (code: number): Promise<never> => {
    if (!stopping) {
      stopping = true;
      exitCode = code;
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
        await embedded.stop().catch((error: Error) => logger.error(error.message));
        logger.info('Embedded PostgreSQL stopped');
      }
      process.exit(exitCode);
    }
    return new Promise<never>(() => undefined);
  };

  const fork = (): Worker => {
    const worker = cluster.fork(workerEnv);
    serveRateLimits(worker, limits);
    serveUsageLimits(worker, usageLimits);
    worker.once('listening', () => listeningAt.set(worker, Date.now()));
    worker.once('exit', (code, signal) => {
      const since = listeningAt.get(worker);
      listeningAt.delete(worker);
      if (stopping) return;
      const how = signal ? `signal ${signal}` : `code ${code}`;
      if (since === undefined || Date.now() - since < MIN_UPTIME_MS) {
        logger.error(`worker ${worker.process.pid} exited (${how}) while starting; stopping`);
        void stop(1);
      } else {
        logger.error(`worker ${worker.process.pid} exited (${how}); starting a replacement`);
        fork();
      }
    });
    return worker;
  };

  const listening = (worker: Worker) =>
    new Promise<void>((resolve, reject) => {
      worker.once('listening', () => resolve());
      worker.once('exit', () => reject(new Error('worker exited before listening')));
    });

  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const)
    process.on(signal, () => void stop(0));

  try {
    // The first worker alone: it migrates and creates what a first start creates.
    await listening(fork());
    await Promise.all(Array.from({ length: env.workers - 1 }, () => listening(fork())));
  } catch {
    await stop(1); // the worker printed why
  }
  process.stdout.write(
    `Tessera listening on http://${env.host}:${env.port} with ${env.workers} workers (docs at /docs)\n`,
  );
}
