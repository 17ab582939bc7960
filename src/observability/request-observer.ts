import { Inject, Injectable, OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Socket } from 'node:net';
import { AuditService } from '../audit/audit.service';
import {
  DomainError,
  ErrorCode,
  InsufficientQuotaError,
  OAuthError,
  RateLimitedError,
  RevokedTokenError,
  TokenExpiredError,
} from '../common/errors';
import { callerOf, problemOf } from '../common/request-context';
import type { EdgeObserver } from '../common/edge-refusals';
import { MetricsService } from '../metrics/metrics.service';
import type { Logger } from 'pino';
import { APP_LOGGER } from './app-logger';
import { RequestLogLine } from './request-log-line';
import { traceOf } from './trace-correlation';

const TRACE_ID = Symbol('tessera.traceId');
/** On a connection: the reply of its request in flight, until that has been observed. */
const IN_FLIGHT = Symbol('tessera.inFlight');

/**
 * The status logged and counted for a request whose connection closed before anything was
 * answered (nginx's "client closed request").
 */
export const CLIENT_CLOSED_REQUEST = 499;

type WatchedSocket = Socket & { [IN_FLIGHT]?: FastifyReply };

interface Caller {
  subject: string;
  clientId?: string;
  method?: string;
}

type ObservedRequest = FastifyRequest & { user?: Caller };

/** 401 codes of the bearer check; a login's own failure is audited by the login (user.login). */
const BEARER_FAILURES: ReadonlySet<string> = new Set([
  ErrorCode.NotAuthenticated,
  ErrorCode.TokenExpired,
  ErrorCode.InvalidToken,
  ErrorCode.RevokedToken,
]);

/**
 * One place that sees every request: it answers with `x-request-id`, and when the answer has gone
 * out, observes one latency histogram, writes the request's one JSON log line
 * (request id, route, status, time, caller's subject and client — never a credential), and counts
 * and audits refusals (401, 403, 429) from what the exception filter noted on the request.
 *
 * Fastify hooks rather than a Nest interceptor: an interceptor costs an observable chain per
 * request (a quarter of a guarded route's throughput, measured), a hook one function call.
 */
@Injectable()
export class RequestObserver implements OnModuleInit, EdgeObserver {
  private readonly line: RequestLogLine;
  /**
   * The `close` listener of every connection (one function, added once per connection, not per
   * request). Fastify runs `onResponse` only when a response finishes: an answer whose connection
   * closed before its end — a client that went away mid-stream or before the upstream answered, a
   * stream cut off when its upstream broke off — had no log line and no metric. The request in
   * flight on a connection is one property of its socket, set and cleared per request.
   */
  private readonly closed: (this: WatchedSocket) => void;

  constructor(
    private readonly adapterHost: HttpAdapterHost,
    private readonly metrics: MetricsService,
    private readonly audit: AuditService,
    @Inject(APP_LOGGER) private readonly logger: Logger,
  ) {
    this.line = new RequestLogLine(logger);
    const cutOff = (reply: FastifyReply) =>
      this.onResponse(reply.request as ObservedRequest, reply, true);
    this.closed = function (this: WatchedSocket) {
      const reply = this[IN_FLIGHT];
      // A response that finished is observed by onResponse, whichever comes first.
      if (reply !== undefined && !reply.raw.writableFinished) cutOff(reply);
    };
  }

  onModuleInit(): void {
    const fastify = this.adapterHost.httpAdapter?.getInstance<FastifyInstance>();
    if (!fastify?.addHook) return; // an application context without HTTP (the CLI)
    fastify.addHook('onRequest', (request, reply, done) => {
      reply.header('x-request-id', request.id);
      const socket = request.raw.socket as WatchedSocket | null;
      if (socket) {
        if (!(IN_FLIGHT in socket)) socket.on('close', this.closed);
        socket[IN_FLIGHT] = reply;
      }
      const traceId = traceOf(request.raw, request.id);
      if (traceId !== undefined) (request as unknown as Record<symbol, string>)[TRACE_ID] = traceId;
      done();
    });
    fastify.addHook('onResponse', (request, reply, done) => {
      this.onResponse(request as ObservedRequest, reply);
      done();
    });
  }

  /** A request answered before routing (common/edge-refusals.ts): its line and metric. */
  refusedBeforeRouting(request: FastifyRequest, reply: FastifyReply): void {
    this.onResponse(request as ObservedRequest, reply);
  }

  /**
   * Bytes that were not HTTP (no request, no method, no URL): the metric with method `-` and
   * route `unmatched`, and a line saying what the parser refused.
   */
  refusedUnparsed(status: number, code: string | undefined): void {
    this.metrics.observeRequest('-', 'unmatched', status, 0);
    this.logger.info(
      { route: 'unmatched', status, err: { code } },
      'request refused: not valid HTTP',
    );
  }

  /**
   * The request's metric and line. `aborted`: its connection closed before the answer was
   * complete — counted and logged with the status that was sent, or
   * {@link CLIENT_CLOSED_REQUEST} when none was.
   */
  private onResponse(request: ObservedRequest, reply: FastifyReply, aborted = false): void {
    const socket = request.raw.socket as WatchedSocket | null;
    if (socket?.[IN_FLIGHT] === reply) socket[IN_FLIGHT] = undefined;
    const status = aborted && !reply.raw.headersSent ? CLIENT_CLOSED_REQUEST : reply.statusCode;
    const route = request.routeOptions.url ?? 'unmatched';
    const seconds = reply.elapsedTime / 1000;
    this.metrics.observeRequest(request.method, route, status, seconds);
    if (!aborted && status >= 400 && status < 500 && status !== 404)
      this.refused(request, reply, status);
    // Liveness and readiness probes are not logged while they pass (a probe every few seconds
    // would drown the log); a failing readiness check is.
    if (route.startsWith('/health') && status < 400) return;
    const caller = request.user ?? callerOf(request);
    this.line.write(request, {
      route,
      status,
      responseTime: Math.round(reply.elapsedTime * 100) / 100,
      subject: caller?.subject,
      client: caller?.clientId,
      aborted: aborted || undefined,
      traceId: (request as unknown as Record<symbol, string | undefined>)[TRACE_ID],
    });
  }

  /** Metrics and audit events of a refusal (authentication, authorization, limits). */
  private refused(request: ObservedRequest, reply: FastifyReply, status: number): void {
    const problem = problemOf(request);
    const base = {
      actor: request.user?.subject,
      actorMethod: request.user?.method,
      target: request.routeOptions.url ?? request.url.split('?')[0].slice(0, 200),
      ip: request.ip,
      requestId: request.id,
      userAgent: userAgentOf(request),
    };
    if (problem instanceof OAuthError) {
      // The token endpoint audits its own failures (client.authenticate, user.login).
      if (status === 429) this.metrics.limitRefusals.inc({ limit: 'login' });
      else if (problem.error === 'invalid_client' || problem.error === 'invalid_grant')
        this.metrics.authFailures.inc({ reason: problem.error });
      return;
    }
    if (!(problem instanceof DomainError)) return;
    if (status === 401) {
      this.metrics.authFailures.inc({ reason: problem.code });
      if (BEARER_FAILURES.has(problem.code)) {
        // An expired or revoked token whose signature verified names its holder; a token that
        // did not verify names no one (its claims are the sender's word).
        const holder =
          problem instanceof TokenExpiredError || problem instanceof RevokedTokenError
            ? problem.holder
            : undefined;
        void this.audit.record({
          ...base,
          ...(holder && !base.actor ? { actor: holder.subject, actorMethod: 'jwt' } : {}),
          action: 'auth.failed',
          outcome: 'failure',
          details: { reason: problem.code, method: request.method, client: holder?.clientId },
        });
      }
    } else if (status === 403 && problem.code === ErrorCode.InsufficientPermissions) {
      const required = (problem.extra.required as string[] | undefined) ?? [];
      this.metrics.authorizationDenials.inc({ permission: required.join(',') });
      void this.audit.record({
        ...base,
        action: 'access.denied',
        outcome: 'failure',
        details: { required, method: request.method },
      });
    } else if (status === 403 && problem.code === ErrorCode.ModelNotAllowed) {
      // Audited where it is decided (model.access_denied, with the model); counted here under
      // one label value: the model names callers ask for are theirs to choose.
      this.metrics.authorizationDenials.inc({ permission: 'invoke:<model>' });
    } else if (problem instanceof RateLimitedError || problem instanceof InsufficientQuotaError) {
      this.metrics.limitRefusals.inc({ limit: problem.limit });
      // A login lockout is audited by the login itself (user.login, locked_out).
      if (problem.limit === 'login') return;
      void this.audit.record({ ...base, ...limitRefusal(problem, reply, request.method) });
    }
  }
}

/**
 * The audit event of a limit's refusal: `rate_limit.refused` (the principal's request rate, as
 * its `RateLimit-Limit` header gave it, and which limit refused: its `policy` as written and its
 * `source`), `token_limit.refused` or `budget.refused` (a gateway
 * limit: its policy and the model asked for).
 */
function limitRefusal(
  problem: RateLimitedError | InsufficientQuotaError,
  reply: FastifyReply,
  method: string,
) {
  const outcome = 'failure' as const;
  if (problem.limit === 'rate')
    return {
      action: 'rate_limit.refused',
      outcome,
      details: {
        limit: Number(reply.getHeader('ratelimit-limit')),
        policy: problem.request?.policy,
        source: problem.request?.source,
        method,
      },
    };
  return {
    action: problem.limit === 'budget' ? 'budget.refused' : 'token_limit.refused',
    outcome,
    details: { limit: problem.gateway?.policy, model: problem.gateway?.model, method },
  };
}

function userAgentOf(request: FastifyRequest): string | undefined {
  const agent = request.headers['user-agent'];
  return typeof agent === 'string' ? agent.slice(0, 300) : undefined;
}
