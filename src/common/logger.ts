import type { LoggerService } from '@nestjs/common';
import pino, { Level, Logger } from 'pino';
import { writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { LineWriter, MAX_BUFFERED } from './line-writer';
import { StartupError } from './startup-error';

/** How long a log line may wait in the buffer when traffic is too low to fill it. */
const FLUSH_EVERY_MS = 250;

let stdout: LineWriter | undefined;

/**
 * The process's one stdout destination ({@link LineWriter}): lines are buffered and written
 * 16 KiB at a time instead of one `write` per line (a full non-blocking pipe is retried later,
 * never waited for; at most 8 MiB wait for a reader that does not read, then lines are dropped
 * and counted). A timer writes out a partial buffer within 250 ms, and a last synchronous
 * flush on `exit` covers every path out of the process (graceful shutdown, `process.exit` after
 * a fatal error).
 * One for the process, however many apps it creates (the tests create many).
 */
function stdoutDestination(): LineWriter {
  if (stdout) return stdout;
  const destination = new LineWriter(1, undefined, undefined, droppedNotice);
  setInterval(() => destination.flush(), FLUSH_EVERY_MS).unref();
  process.once('exit', () => destination.flushSync());
  stdout = destination;
  return destination;
}

/**
 * Structured JSON logs on stdout at `level`, through the asynchronous destination above.
 *
 * Credentials never reach the logs because nothing that carries them is given to the logger: the
 * request line is built field by field (observability/request-log-line.ts), bodies are never
 * logged and query strings are dropped. That is cheaper than redaction paths and cannot miss a new field.
 */
export function createLogger(level: string): Logger {
  return pino({ level }, stdoutDestination());
}

/**
 * Errors the Nest logger has already written (Nest's ExceptionHandler logs what fails while the
 * application is created, then rethrows it): the process's last word must not repeat them.
 */
const loggedErrors = new WeakSet<object>();

export function wasLogged(error: unknown): boolean {
  return typeof error === 'object' && error !== null && loggedErrors.has(error);
}

/**
 * A line in pino's format written at once, for a process about to exit — before the logger
 * exists (a bad variable is found before LOG_LEVEL is known) or after it is gone: whatever the
 * logger buffered first, then this line, synchronously, on stdout with every other log line.
 * Level 60 (fatal) unless told otherwise.
 */
export function writeLineNow(
  msg: string,
  fields: Record<string, unknown> = {},
  level: number = 60,
): void {
  stdout?.flushSync();
  const line = JSON.stringify({
    level,
    time: Date.now(),
    pid: process.pid,
    hostname: hostname(),
    ...fields,
    msg,
  });
  try {
    writeSync(1, `${line}\n`);
  } catch {
    // stdout closed: nothing else can carry it
  }
}

/** The line that follows lines dropped because stdout was not read: pino's own format, a warning. */
function droppedNotice(dropped: number): string {
  return `${JSON.stringify({
    level: 40,
    time: Date.now(),
    pid: process.pid,
    hostname: hostname(),
    context: 'Logger',
    msg: `${dropped} log lines dropped: stdout was not read while ${MAX_BUFFERED / 1024 / 1024} MiB waited`,
  })}\n`;
}

/** Log lines dropped because stdout was not read (`tessera_log_lines_dropped_total`). */
export function droppedLogLines(): number {
  return stdout?.droppedTotal ?? 0;
}

/** Writes out what is buffered (for a graceful shutdown); resolves once it is written. */
export function flushLogs(): Promise<void> {
  const destination = stdout;
  if (!destination) return Promise.resolve();
  return new Promise<void>((resolve) => destination.flush(resolve));
}

const NEST_LEVELS: Record<string, Level> = {
  log: 'info',
  error: 'error',
  warn: 'warn',
  debug: 'debug',
  verbose: 'trace',
  fatal: 'fatal',
};

/**
 * Nest's own messages (`new Logger('Keys').warn(…)`) as JSON lines of the same logger, with the
 * context in `context`: `{"level":40,…,"context":"Keys","msg":"…"}`. A message given as an object
 * is merged into the line (the exception filter adds the request's `req.id` that way).
 */
export class NestPinoLogger implements LoggerService {
  constructor(private readonly logger: Logger) {}

  log(message: unknown, ...params: unknown[]): void {
    this.write('log', message, params);
  }
  error(message: unknown, ...params: unknown[]): void {
    this.write('error', message, params);
  }
  warn(message: unknown, ...params: unknown[]): void {
    this.write('warn', message, params);
  }
  debug(message: unknown, ...params: unknown[]): void {
    this.write('debug', message, params);
  }
  verbose(message: unknown, ...params: unknown[]): void {
    this.write('verbose', message, params);
  }
  fatal(message: unknown, ...params: unknown[]): void {
    this.write('fatal', message, params);
  }

  private write(method: string, message: unknown, params: unknown[]): void {
    const level = NEST_LEVELS[method];
    if (!this.logger.isLevelEnabled(level)) return;
    // Nest appends the context as the last string; `error` passes a stack before it.
    const rest = [...params];
    const context =
      rest.length > 0 && typeof rest[rest.length - 1] === 'string'
        ? (rest.pop() as string)
        : undefined;
    const fields: Record<string, unknown> = context ? { context } : {};
    if (typeof message === 'object' && message !== null) loggedErrors.add(message);
    if (message instanceof StartupError) {
      this.logger[level](fields, message.message); // expected: no stack trace
    } else if (message instanceof Error) {
      this.logger[level]({ ...fields, err: message }, message.message);
    } else if (typeof message === 'object' && message !== null) {
      this.logger[level]({ ...fields, ...message });
    } else {
      const stack = method === 'error' && typeof rest[0] === 'string' ? rest[0] : undefined;
      this.logger[level](stack ? { ...fields, err: { stack } } : fields, String(message));
    }
  }
}
