import type { FastifyRequest } from 'fastify';
import pino from 'pino';
import type { Logger } from 'pino';
import { redactCredentialSegments } from '../common/credential-shape';

/** What a request's line says besides the request itself. */
export interface RequestOutcome {
  route: string;
  status: number;
  /** Milliseconds, rounded to 0.01. */
  responseTime: number;
  subject?: string;
  client?: string;
  /**
   * The connection closed before the answer was complete (the client went away, or a stream was
   * cut off when its upstream broke off): `"aborted":true`, "request aborted".
   */
  aborted?: boolean;
  /** With tracing on: the trace the request's spans belong to (32 hex digits). */
  traceId?: string;
}

/**
 * The longest path a line carries: a 414's 3000-character path (or any long one) is cut to its
 * first 200 characters and `…`, so a caller cannot make log lines of any size.
 */
export const MAX_LOGGED_PATH = 200;

interface PinoInternals {
  [pino.symbols.streamSym]: { write(line: string): unknown };
  [pino.symbols.chindingsSym]: string;
}

/**
 * A request's one log line, written straight to the logger's destination: the very line pino
 * writes for `logger.info({ req, route, status, responseTime, subject, client }, 'request
 * completed')` (`level`, `time`, `pid`, `hostname`, the fields, `msg`), serialized by hand.
 * pino's generic path (serializers, the child bindings, a JSON walk of the object) was a fifth of
 * a guarded request's cost; this one concatenates strings (`JSON.stringify` for each string that
 * came from the caller, so a hostile user agent is escaped exactly as pino would).
 *
 * The request is described by its id, method, path without the query string (at most
 * {@link MAX_LOGGED_PATH} characters), user agent, and whether a credential header was present —
 * never its value.
 */
export class RequestLogLine {
  private readonly destination: { write(line: string): unknown };
  private readonly bindings: string;
  private readonly infoLevel: number;
  private readonly warnLevel: number;

  constructor(private readonly logger: Logger) {
    const internals = logger as unknown as PinoInternals;
    this.destination = internals[pino.symbols.streamSym];
    this.bindings = internals[pino.symbols.chindingsSym];
    this.infoLevel = logger.levels.values.info;
    this.warnLevel = logger.levels.values.warn;
  }

  /**
   * Writes the line: `request completed` (info), `request aborted` (info) for an answer whose
   * connection closed before it was complete, or `request failed` (warn) for a 5xx.
   */
  write(request: FastifyRequest, outcome: RequestOutcome): void {
    const failed = outcome.status >= 500;
    if (!this.logger.isLevelEnabled(failed ? 'warn' : 'info')) return;
    this.destination.write(this.format(request, outcome, Date.now()));
  }

  /** The line, newline included (separate for the tests). */
  format(request: FastifyRequest, outcome: RequestOutcome, time: number): string {
    const { headers } = request;
    const url = request.url;
    const query = url.indexOf('?');
    let path = query === -1 ? url : url.slice(0, query);
    if (path.length > MAX_LOGGED_PATH) path = `${path.slice(0, MAX_LOGGED_PATH)}…`;
    path = redactCredentialSegments(path);
    const agent = headers['user-agent'];
    const failed = outcome.status >= 500;
    // The request headers shown: the agent, and which credential headers were sent.
    let shown = agent === undefined ? '' : `,"user-agent":${JSON.stringify(agent)}`;
    if (headers.authorization) shown += ',"authorization":"[redacted]"';
    if (headers['x-api-key']) shown += ',"x-api-key":"[redacted]"';
    return (
      `{"level":${failed ? this.warnLevel : this.infoLevel},"time":${time}${this.bindings}` +
      `,"req":{"id":${JSON.stringify(String(request.id))},"method":${JSON.stringify(request.method)}` +
      `,"url":${JSON.stringify(path)}` +
      `,"headers":{${shown.slice(1)}` +
      `}},"route":${JSON.stringify(outcome.route)},"status":${outcome.status}` +
      `,"responseTime":${outcome.responseTime}` +
      (outcome.subject === undefined ? '' : `,"subject":${JSON.stringify(outcome.subject)}`) +
      (outcome.client === undefined ? '' : `,"client":${JSON.stringify(outcome.client)}`) +
      (outcome.aborted ? ',"aborted":true' : '') +
      (outcome.traceId === undefined ? '' : `,"trace_id":"${outcome.traceId}"`) +
      `,"msg":"${failed ? 'request failed' : outcome.aborted ? 'request aborted' : 'request completed'}"}\n`
    );
  }
}
