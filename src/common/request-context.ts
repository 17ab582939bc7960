import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

/** What the audit trail and the logs need to know about the request being served. */
export interface RequestInfo {
  /** The request id: the caller's `X-Request-Id` when sane, else a new UUID. */
  readonly id: string;
  readonly ip?: string;
  readonly headers: IncomingMessage['headers'];
  /** The principal, once the authentication guard has set it. */
  readonly user?: { subject: string; clientId?: string; method?: string };
}

/** A caller's id is kept when it is 1 to 128 visible ASCII characters (no spaces, no controls). */
const SANE_REQUEST_ID = /^[\x21-\x7e]{1,128}$/;

/**
 * Fastify's `genReqId`: the incoming `X-Request-Id` when it is sane, otherwise a random UUID.
 * Never a per-process counter: ids must not collide across replicas and restarts.
 */
export function requestIdFor(raw: IncomingMessage): string {
  const given = raw.headers['x-request-id'];
  return typeof given === 'string' && SANE_REQUEST_ID.test(given) ? given : randomUUID();
}

/**
 * The request being served, for code that has no request in hand (services deep in a grant, the
 * audit trail): set by the request observer's hooks around each request.
 */
export const requestContext = new AsyncLocalStorage<RequestInfo>();

/** The request being served, if any. */
export function currentRequest(): RequestInfo | undefined {
  return requestContext.getStore();
}

const PROBLEM = Symbol('tessera.problem');

/**
 * The exception filter notes what it answered with on the request, so the request observer can
 * count and audit refusals (401, 403, 429) in one place without each guard doing it.
 */
export function noteProblem(request: object, exception: unknown): void {
  (request as Record<symbol, unknown>)[PROBLEM] = exception;
}

export function problemOf(request: object): unknown {
  return (request as Record<symbol, unknown>)[PROBLEM];
}
