import 'reflect-metadata';
import { describeStartupError } from './common/startup-error';
import { ConfigValidationError, validateEnv } from './config/env.validation';
import { loadAuthPolicy, PolicyError } from './config/policy/auth-policy';

async function main(): Promise<void> {
  // Validate before anything else so a bad variable or policy is one clear line, not a stack trace.
  const env = validateEnv(process.env);
  loadAuthPolicy(env.authPolicyFile, env.production, env.authPolicyFileRequired);
  const { createApp, drainHttp } = await import('./bootstrap');
  const app = await createApp();
  await app.listen({ port: env.port, host: env.host });
  closeOnSignals(async () => {
    // The order matters (each step needs the next one's resources):
    // 1. stop accepting and drain: in-flight requests, and any on an open keep-alive connection,
    //    are answered with `Connection: close` (so no client's request is reset); connections
    //    still idle after 2 s are closed;
    // 2. app.close(): beforeApplicationShutdown hooks flush what requests buffered (usage
    //    counts, API-key last-used times, audit batches) while the database is still up;
    // 3. onApplicationShutdown: connections closed, then the embedded PostgreSQL stopped.
    await drainHttp(app);
    await app.close();
  });
  process.stdout.write(`Tessera listening on http://${env.host}:${env.port} (docs at /docs)\n`);
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
