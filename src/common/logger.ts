import type { LoggerService } from '@nestjs/common';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import pino, { Level, Logger } from 'pino';

/** How long a log line may wait in the buffer when traffic is too low to fill it. */
const FLUSH_EVERY_MS = 250;

export interface AppLog {
  /** The root logger: JSON lines on stdout. */
  logger: Logger;
  /** Writes out what is buffered; resolves once it is written. */
  flush(): Promise<void>;
  /** Stops the flush timer and writes out what is buffered. */
  close(): Promise<void>;
}

/**
 * Structured JSON logs on stdout through an asynchronous destination (sonic-boom): lines are
 * buffered (4 KiB) and written without blocking the event loop, instead of one synchronous
 * `write` per line; a timer writes out a partial buffer within 250 ms, {@link AppLog.close} on
 * shutdown, and a last synchronous flush on `exit` covers the paths that skip a graceful close.
 *
 * Credentials never reach the logs because nothing that carries them is given to the logger: the
 * request line is built field by field ({@link describeRequest}), bodies are never logged and
 * query strings are dropped. That is cheaper than redaction paths and cannot miss a new field.
 */
export function createAppLog(level: string): AppLog {
  const destination = pino.destination({ dest: 1, sync: false, minLength: 4096 });
  const logger = pino({ level }, destination);
  const timer = setInterval(() => destination.flush(), FLUSH_EVERY_MS);
  timer.unref();
  flushOnExit(destination);
  const flush = () => new Promise<void>((resolve) => destination.flush(() => resolve()));
  return {
    logger,
    flush,
    async close() {
      clearInterval(timer);
      await flush();
    },
  };
}

type Destination = ReturnType<typeof pino.destination>;
/**
 * Destinations written out synchronously when the process exits: lines logged after a graceful
 * close (the last shutdown hooks) or on a path that never closes (process.exit on a fatal error).
 * One `exit` listener for all of them, however many apps a process creates (the tests create many).
 */
const toFlushOnExit = new Set<Destination>();

function flushOnExit(destination: Destination): void {
  if (toFlushOnExit.size === 0) {
    process.once('exit', () => {
      for (const each of toFlushOnExit) {
        try {
          each.flushSync();
        } catch {
          // not open yet, or already closed: nothing left to write
        }
      }
    });
  }
  toFlushOnExit.add(destination);
}

/**
 * The logged request: id, method, path without the query string, the user agent, and whether a
 * credential header was present — never its value.
 */
export function describeRequest(request: FastifyRequest): Record<string, unknown> {
  const { headers } = request;
  const url = request.url;
  const query = url.indexOf('?');
  return {
    id: request.id,
    method: request.method,
    url: query === -1 ? url : url.slice(0, query),
    headers: {
      'user-agent': headers['user-agent'],
      ...(headers.authorization ? { authorization: '[redacted]' } : {}),
      ...(headers['x-api-key'] ? { 'x-api-key': '[redacted]' } : {}),
    },
  };
}

/**
 * One line per request, written by Fastify's own `onResponse` hook ("request completed", or
 * "request errored" at error level for a 5xx) and `onRequestAbort` ("request aborted"). Health
 * probes are not logged.
 */
export function logRequests(fastify: FastifyInstance, logger: Logger): void {
  if (!logger.isLevelEnabled('error')) return; // LOG_LEVEL=silent/fatal: no request line at all
  fastify.addHook('onResponse', (request, reply, done) => {
    if (!request.url.startsWith('/health')) {
      const statusCode = reply.statusCode;
      const line = {
        req: describeRequest(request),
        res: { statusCode },
        responseTime: Math.round(reply.elapsedTime),
      };
      if (statusCode >= 500) logger.error(line, 'request errored');
      else logger.info(line, 'request completed');
    }
    done();
  });
  fastify.addHook('onRequestAbort', (request, done) => {
    logger.info({ req: describeRequest(request) }, 'request aborted');
    done();
  });
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
 * context in `context`: `{"level":40,…,"context":"Keys","msg":"…"}`.
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
    if (message instanceof Error) {
      this.logger[level]({ ...fields, err: message }, message.message);
    } else if (typeof message === 'object' && message !== null) {
      this.logger[level]({ ...fields, ...message });
    } else {
      const stack = method === 'error' && typeof rest[0] === 'string' ? rest[0] : undefined;
      this.logger[level](stack ? { ...fields, err: { stack } } : fields, String(message));
    }
  }
}
