import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

/**
 * What the audit trail needs to know about the request an event happened in (Fastify's request
 * satisfies it). Passed by hand from the controller to the service that records: an
 * AsyncLocalStorage would find it implicitly, but turns on Node's promise hooks for every promise
 * of every request (a fifth of a guarded route's throughput, measured).
 */
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

const CALLER = Symbol('tessera.caller');

/** Who a request's log line names: the principal's subject and client. */
export interface NamedCaller {
  subject: string;
  clientId?: string;
}

/**
 * A public endpoint that authenticates its caller itself — the token endpoint, after a client
 * (and for the password grant a person) proved who it is — names them for the request's log line,
 * as the authentication guard does for every other route (`request.user`).
 */
export function noteCaller(request: object, caller: NamedCaller): void {
  (request as Record<symbol, unknown>)[CALLER] = caller;
}

export function callerOf(request: object): NamedCaller | undefined {
  return (request as Record<symbol, unknown>)[CALLER] as NamedCaller | undefined;
}
