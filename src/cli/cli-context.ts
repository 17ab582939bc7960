import { ConsoleLogger, DynamicModule, INestApplicationContext, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { AuditModule } from '../audit/audit.module';
import { AuditService } from '../audit/audit.service';
import { MetricsModule } from '../metrics/metrics.module';
import { configRoot } from '../config/config-root';
import { DatabaseModule } from '../database/database.module';
import { StartupError } from '../common/startup-error';
import { PgListener } from '../database/pg-listener';
import { RbacModule } from '../rbac/rbac.module';

@Module({})
class CommandContextModule {}

type Imports = NonNullable<DynamicModule['imports']>;

/**
 * Boots a Nest application context (never the HTTP server) with the database, the policy's roles
 * and only the feature modules a command needs, runs `work`, and closes it (which also stops an
 * embedded PostgreSQL). Whatever modules print while starting — the bootstrap admin's one-time
 * secret, say — goes to stderr, so stdout carries only the command's own result.
 */
export async function withContext<T>(
  modules: Imports,
  work: (context: INestApplicationContext) => Promise<T>,
): Promise<T> {
  const root: DynamicModule = {
    module: CommandContextModule,
    imports: [
      configRoot(),
      DatabaseModule,
      RbacModule,
      AuditModule,
      // Services record metrics (revocation gauges…) even when a command runs them.
      MetricsModule,
      ...modules,
    ],
  };
  const write = process.stdout.write.bind(process.stdout);
  process.stdout.write = process.stderr.write.bind(process.stderr) as typeof process.stdout.write;
  let context: INestApplicationContext;
  try {
    context = await NestFactory.createApplicationContext(root, {
      // Colours only for a person at a terminal: escape codes in a log file or a CI log
      // (`[33m[Nest] …`) are noise. NO_COLOR turns them off at a terminal too.
      logger: new CliLogger({
        logLevels: ['error', 'warn'],
        colors: process.stderr.isTTY === true && !process.env.NO_COLOR,
      }),
      abortOnError: false,
    });
  } finally {
    process.stdout.write = write;
  }
  // A one-shot command needs no change notifications, and its own NOTIFY (after a rotation)
  // would otherwise start a key reload racing the shutdown.
  await context.get(PgListener).beforeApplicationShutdown();
  try {
    return await work(context);
  } finally {
    await context.close();
  }
}

/**
 * Records an admin change made from the command line (actor `cli`); awaited, so it is stored
 * before the command exits (closing the context flushes the audit buffer too).
 */
export function recordCliChange(
  context: INestApplicationContext,
  action: string,
  target: string | undefined,
  details: Record<string, unknown> = {},
): Promise<void> {
  return context.get(AuditService).recordDurably({
    action,
    outcome: 'success',
    actor: 'cli',
    actorMethod: 'cli',
    target,
    details,
  });
}

/**
 * Nest's console logger for commands, without the stack trace of an expected condition (an
 * unreachable database): the command prints that condition's one line itself as it exits.
 */
class CliLogger extends ConsoleLogger {
  override error(message: unknown, ...rest: unknown[]): void {
    if (message instanceof StartupError) return;
    super.error(message, ...rest);
  }
}
