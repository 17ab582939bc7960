import {
  ArgumentsHost,
  Catch,
  ExceptionFilter,
  HttpException,
  HttpStatus,
  Logger,
} from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { isDatabaseUnavailable, redactDatabaseMessage } from './database-errors';
import {
  DomainError,
  ErrorCode,
  InsufficientPermissionsError,
  InsufficientQuotaError,
  InvalidTokenError,
  NotAuthenticatedError,
  OAuthError,
  PayloadTooLargeError,
  RateLimitedError,
  RevokedTokenError,
  ServiceUnavailableError,
  TokenExpiredError,
  UnsupportedMediaTypeError,
  ValidationFailedError,
} from './errors';
import { payloadTooLarge, unsupportedContentType } from './hostile-input';
import { noteProblem } from './request-context';

export interface ProblemDetails {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: string;
  [extra: string]: unknown;
}

const PROBLEM_BASE = 'https://tessera.dev/problems/';

function assertNever(value: never): never {
  throw new Error(`Unmapped error code: ${String(value)}`);
}

/** Exhaustive: adding an ErrorCode without a case here is a compile error. */
export function statusFor(code: ErrorCode): number {
  switch (code) {
    case ErrorCode.NotAuthenticated:
    case ErrorCode.TokenExpired:
    case ErrorCode.InvalidToken:
    case ErrorCode.InvalidCredentials:
    case ErrorCode.RevokedToken:
      return HttpStatus.UNAUTHORIZED;
    case ErrorCode.InsufficientPermissions:
    case ErrorCode.ModelNotAllowed:
      return HttpStatus.FORBIDDEN;
    case ErrorCode.RateLimited:
    case ErrorCode.InsufficientQuota:
      return HttpStatus.TOO_MANY_REQUESTS;
    case ErrorCode.Misconfigured:
      return HttpStatus.INTERNAL_SERVER_ERROR;
    case ErrorCode.ValidationFailed:
      return HttpStatus.BAD_REQUEST;
    case ErrorCode.NotFound:
    case ErrorCode.ModelNotFound:
      return HttpStatus.NOT_FOUND;
    case ErrorCode.Conflict:
      return HttpStatus.CONFLICT;
    case ErrorCode.ServiceUnavailable:
      return HttpStatus.SERVICE_UNAVAILABLE;
    case ErrorCode.BadGateway:
      return HttpStatus.BAD_GATEWAY;
    case ErrorCode.GatewayTimeout:
      return HttpStatus.GATEWAY_TIMEOUT;
    case ErrorCode.PayloadTooLarge:
      return HttpStatus.PAYLOAD_TOO_LARGE;
    case ErrorCode.UnsupportedMediaType:
      return HttpStatus.UNSUPPORTED_MEDIA_TYPE;
    default:
      return assertNever(code);
  }
}

const TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  408: 'Request Timeout',
  409: 'Conflict',
  413: 'Payload Too Large',
  414: 'URI Too Long',
  415: 'Unsupported Media Type',
  429: 'Too Many Requests',
  431: 'Request Header Fields Too Large',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
};

const CODES_BY_STATUS: Record<number, string> = {
  400: ErrorCode.ValidationFailed,
  401: ErrorCode.NotAuthenticated,
  403: ErrorCode.InsufficientPermissions,
  404: ErrorCode.NotFound,
  409: ErrorCode.Conflict,
  413: ErrorCode.PayloadTooLarge,
  415: ErrorCode.UnsupportedMediaType,
  429: ErrorCode.RateLimited,
  503: ErrorCode.ServiceUnavailable,
};

export function problem(
  status: number,
  detail: string,
  code: string,
  extra: Record<string, unknown> = {},
): ProblemDetails {
  return {
    type: `${PROBLEM_BASE}${code}`,
    title: TITLES[status] ?? (status >= 500 ? 'Internal Server Error' : 'Error'),
    status,
    detail,
    code,
    ...extra,
  };
}

/** Turns any thrown value into a problem+json body (and its extra headers). Never leaks a stack. */
export function toProblem(exception: unknown): {
  body: ProblemDetails;
  headers: Record<string, string>;
} {
  const headers: Record<string, string> = {};
  if (exception instanceof DomainError) {
    const status = statusFor(exception.code);
    if (status === HttpStatus.UNAUTHORIZED) {
      // RFC 6750 §3: a missing token gets a bare challenge, a bad one names the error.
      headers['WWW-Authenticate'] =
        exception.code === ErrorCode.NotAuthenticated ||
        exception.code === ErrorCode.InvalidCredentials
          ? 'Bearer realm="tessera"'
          : `Bearer realm="tessera", error="invalid_token", error_description="${exception.message}"`;
    }
    if (
      (exception instanceof RateLimitedError || exception instanceof InsufficientQuotaError) &&
      exception.retryAfterSeconds !== undefined
    )
      headers['Retry-After'] = String(exception.retryAfterSeconds);
    if (exception instanceof DatabaseUnavailableError) headers['Retry-After'] = '1';
    return { body: problem(status, exception.message, exception.code, exception.extra), headers };
  }
  if (exception instanceof HttpException) {
    const status = exception.getStatus();
    const response = exception.getResponse();
    let detail = exception.message;
    const extra: Record<string, unknown> = {};
    if (typeof response === 'object' && response !== null) {
      // Terminus readiness failures carry per-check details worth showing.
      const details = (response as { details?: unknown }).details;
      if (details !== undefined) {
        extra.checks = details;
        detail = 'Service is not ready';
      }
      const message = (response as { message?: unknown }).message;
      if (Array.isArray(message)) detail = message.join('; ');
      else if (typeof message === 'string') detail = message;
    }
    if (status === 404 && /^Cannot (GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS)/.test(detail)) {
      detail = `No route for ${detail.replace(/^Cannot /, '')}`;
    }
    return {
      body: problem(status, detail, CODES_BY_STATUS[status] ?? `http_${status}`, extra),
      headers,
    };
  }
  // Fastify's own errors (bad JSON, unsupported media type, body too large) carry a 4xx statusCode.
  const fastifyError = exception as { statusCode?: unknown; message?: unknown; code?: unknown };
  if (
    typeof fastifyError?.statusCode === 'number' &&
    fastifyError.statusCode >= 400 &&
    fastifyError.statusCode < 500
  ) {
    const status = fastifyError.statusCode;
    const detail =
      typeof fastifyError.code === 'string' &&
      fastifyError.code.startsWith('FST_ERR_CTP_INVALID_JSON')
        ? 'Request body is not valid JSON'
        : typeof fastifyError.message === 'string'
          ? fastifyError.message
          : TITLES[status];
    return { body: problem(status, detail, CODES_BY_STATUS[status] ?? `http_${status}`), headers };
  }
  return { body: problem(500, 'Internal server error', 'internal_error'), headers };
}

/**
 * What a client was told about an exception, in short: the status and the problem's `code` and
 * `detail` (an OAuth endpoint's `error` and `error_description`) — for the audit trail's failure
 * events. A database outage is the 503 the filter answers; anything unexpected the generic 500.
 * Never a stack or an exception's class name.
 */
export function answerOf(exception: unknown): { status: number; code: string; error: string } {
  if (exception instanceof OAuthError)
    return { status: exception.status, code: exception.error, error: exception.description };
  const surfaced =
    !(exception instanceof DomainError) && isDatabaseUnavailable(exception)
      ? new DatabaseUnavailableError()
      : exception;
  const { body } = toProblem(surfaced);
  return { status: body.status, code: body.code, error: body.detail };
}

/** OpenAI's error `type` for a status (what its SDKs and dashboards expect). */
function openAiType(status: number, code: string): string {
  if (code === ErrorCode.InsufficientQuota) return 'insufficient_quota';
  switch (status) {
    case 400:
    case 404:
    case 409:
    case 413:
    case 415:
      return 'invalid_request_error';
    case 401:
      return 'authentication_error';
    case 403:
      return 'permission_error';
    case 429:
      return 'rate_limit_error';
    default:
      return status >= 500 ? 'server_error' : 'invalid_request_error';
  }
}

/** OpenAI's `code` where it has its own name for Tessera's. */
const OPENAI_CODES: Record<string, string> = {
  [ErrorCode.RateLimited]: 'rate_limit_exceeded',
  [ErrorCode.InvalidToken]: 'invalid_api_key',
  [ErrorCode.InvalidCredentials]: 'invalid_api_key',
};

/**
 * Under `/v1/*` the body also carries OpenAI's `error` object, so the `openai` SDKs show the
 * message; the problem+json members stay beside it (clients of the shared-secret API read
 * `detail`), with the same strings.
 */
export function withOpenAiError(body: ProblemDetails, exception: unknown): Record<string, unknown> {
  const param = exception instanceof ValidationFailedError ? (exception.param ?? null) : null;
  return {
    error: {
      message: body.detail,
      type: openAiType(body.status, body.code),
      param,
      code: OPENAI_CODES[body.code] ?? body.code,
    },
    ...body,
  };
}

function isOpenAiRoute(url: string | undefined): boolean {
  return url !== undefined && (url.startsWith('/v1/') || url === '/v1' || url.startsWith('/v1?'));
}

function oauthBody(exception: OAuthError) {
  return { error: exception.error, error_description: exception.description };
}

/** A database outage, seen as a 503 (the cause is logged, never its query parameters). */
export class DatabaseUnavailableError extends ServiceUnavailableError {
  constructor() {
    super('Service temporarily unavailable (database); retry shortly');
  }
}

/**
 * Fastify's own refusals of a body reach the filter as Nest's HttpException (status and message
 * only): a 413 and a 415 become the domain errors that say what was wrong (the limit, the type
 * sent).
 */
function fromFastify(exception: unknown, request: FastifyRequest | undefined): unknown {
  if (!(exception instanceof HttpException)) return exception;
  const status = exception.getStatus();
  if (status === HttpStatus.PAYLOAD_TOO_LARGE) return payloadTooLarge();
  if (status === HttpStatus.UNSUPPORTED_MEDIA_TYPE)
    return unsupportedContentType(request?.headers['content-type']);
  return exception;
}

/**
 * RFC 6749 §5.2 on the OAuth endpoints, whatever refused the request before the endpoint's own
 * code did: refused input (a body not read, not UTF-8, not JSON; a header twice) is
 * `invalid_request` with its status (400, 413, 415); no client credentials at
 * /oauth/introspect is `invalid_client` (RFC 7662 §2.1, a 401 with a Basic challenge); a bearer
 * token refused there is RFC 6750's `invalid_token`, one without the permission
 * `insufficient_scope`; a database outage `temporarily_unavailable`.
 */
export function oauthSurface(exception: unknown): unknown {
  if (
    exception instanceof ValidationFailedError ||
    exception instanceof PayloadTooLargeError ||
    exception instanceof UnsupportedMediaTypeError
  )
    return new OAuthError('invalid_request', exception.message, statusFor(exception.code));
  if (exception instanceof NotAuthenticatedError)
    return new OAuthError('invalid_client', 'Client authentication is required');
  if (
    exception instanceof InvalidTokenError ||
    exception instanceof TokenExpiredError ||
    exception instanceof RevokedTokenError
  )
    return new OAuthError('invalid_token', exception.message, 401, {
      'WWW-Authenticate': `Bearer realm="tessera", error="invalid_token", error_description="${exception.message}"`,
    });
  if (exception instanceof InsufficientPermissionsError)
    return new OAuthError('insufficient_scope', exception.message, 403);
  if (exception instanceof ServiceUnavailableError)
    return new OAuthError('temporarily_unavailable', exception.message, 503, {
      'Retry-After': '1',
    });
  if (exception instanceof HttpException) {
    // Fastify's other body refusals (an empty or short body): 400s worded by toProblem.
    const status = exception.getStatus();
    if (status === HttpStatus.BAD_REQUEST)
      return new OAuthError('invalid_request', toProblem(exception).body.detail);
  }
  return exception;
}

/** The endpoints that answer in RFC 6749 form (§5.2), whatever went wrong. */
const OAUTH_ENDPOINT = /^\/(?:oauth\/(?:token|revoke|introspect)|token)\/?(?:\?|$)/;

@Catch()
export class ProblemDetailsFilter implements ExceptionFilter {
  private readonly logger = new Logger('Errors');
  private lastOutageLog = 0;

  /**
   * Gives errors raised outside the endpoint's own code their meaning: a database outage is a
   * 503 (never a 500), Fastify's 413 and 415 name the limit and the type. (On the OAuth
   * endpoints {@link oauthSurface} then gives them RFC 6749's shape.)
   */
  private surfaceError(exception: unknown, request: FastifyRequest | undefined): unknown {
    if (!(exception instanceof DomainError) && isDatabaseUnavailable(exception)) {
      if (Date.now() - this.lastOutageLog > 5000) {
        this.lastOutageLog = Date.now();
        this.logger.warn(`Database unavailable: ${(exception as Error).message}; answering 503`);
      }
      exception = new DatabaseUnavailableError();
    }
    return fromFastify(exception, request);
  }

  catch(thrown: unknown, host: ArgumentsHost): void {
    const reply = host.switchToHttp().getResponse<FastifyReply>();
    if (reply.sent) return;
    const request = host.switchToHttp().getRequest<FastifyRequest | undefined>();
    const surfaced = this.surfaceError(thrown, request);
    const exception =
      request?.url && OAUTH_ENDPOINT.test(request.url) ? oauthSurface(surfaced) : surfaced;
    // For the request observer's metrics and audit of refusals: a bearer's or client's refusal
    // at /oauth/introspect is still the auth.failed or access.denied it was, in RFC 6749 words.
    noteProblem(
      reply.request,
      exception instanceof OAuthError &&
        surfaced instanceof DomainError &&
        (exception.status === 401 || exception.status === 403)
        ? surfaced
        : exception,
    );
    if (exception instanceof OAuthError) {
      // RFC 6749 §5.2: JSON body, no caching; a failed Basic auth gets a Basic challenge.
      reply.header('Cache-Control', 'no-store').header('Pragma', 'no-cache');
      if (exception.status === 401) reply.header('WWW-Authenticate', 'Basic realm="tessera"');
      for (const [name, value] of Object.entries(exception.headers)) reply.header(name, value);
      reply.status(exception.status).type('application/json').send(oauthBody(exception));
      return;
    }
    const { body, headers } = toProblem(exception);
    // The request's id joins these lines to its request line and audit events.
    const req = { id: reply.request.id };
    if (body.status === 500) {
      // Unexpected: the stack is what an operator needs. A driver error's message may quote
      // input (redacted); its detail and the query's parameters are never part of it.
      this.logger.error({
        req,
        msg: redactDatabaseMessage(
          exception instanceof Error ? (exception.stack ?? exception.message) : String(exception),
        ),
      });
    } else if (body.status > 500) {
      // Expected conditions (readiness 503, Redis or upstream down): one line, no stack trace.
      this.logger.warn({ req, msg: `${body.status} ${body.code}: ${body.detail}` });
    }
    for (const [name, value] of Object.entries(headers)) reply.header(name, value);
    const url = request?.url;
    reply
      .status(body.status)
      .type('application/problem+json')
      .send(isOpenAiRoute(url) ? withOpenAiError(body, exception) : body);
  }
}
