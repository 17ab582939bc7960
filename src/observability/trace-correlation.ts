import type { IncomingMessage } from 'node:http';

/**
 * Logs and traces of one request, joined: with tracing on, the request's server span carries its
 * request id (`tessera.request_id`, searchable in the trace store) and its log line the trace id
 * (`trace_id`). Set by `startTracing`; without tracing nothing is set, and a request pays one
 * check of an unset variable.
 */
let correlate: ((raw: IncomingMessage, requestId: string) => string | undefined) | undefined;

export function correlateTraces(
  fn: (raw: IncomingMessage, requestId: string) => string | undefined,
): void {
  correlate = fn;
}

/** Tags the request's server span with its id and returns the trace id (tracing on), else undefined. */
export function traceOf(raw: IncomingMessage, requestId: string): string | undefined {
  return correlate === undefined ? undefined : correlate(raw, requestId);
}
