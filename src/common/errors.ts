/**
 * Domain errors. Services throw these; {@link ProblemDetailsFilter} maps each code to an HTTP status
 * and the SPEC's `detail` string, exhaustively, so a new code without a mapping does not compile.
 */
export enum ErrorCode {
  NotAuthenticated = 'not_authenticated',
  TokenExpired = 'token_expired',
  InvalidToken = 'invalid_token',
  InvalidCredentials = 'invalid_credentials',
  RevokedToken = 'revoked_token',
  InsufficientPermissions = 'insufficient_permissions',
  RateLimited = 'rate_limited',
  Misconfigured = 'misconfigured',
  ValidationFailed = 'validation_failed',
  NotFound = 'not_found',
  Conflict = 'conflict',
  ServiceUnavailable = 'service_unavailable',
  BadGateway = 'bad_gateway',
  GatewayTimeout = 'gateway_timeout',
  ModelNotFound = 'model_not_found',
  ModelNotAllowed = 'model_not_allowed',
  InsufficientQuota = 'insufficient_quota',
  PayloadTooLarge = 'payload_too_large',
  UnsupportedMediaType = 'unsupported_media_type',
}

export class DomainError extends Error {
  constructor(
    readonly code: ErrorCode,
    message?: string,
    /** Extra members for the problem body, e.g. the permissions that were required. */
    readonly extra: Record<string, unknown> = {},
  ) {
    super(message ?? code);
    this.name = new.target.name;
  }
}

export class NotAuthenticatedError extends DomainError {
  constructor() {
    super(ErrorCode.NotAuthenticated, 'Not authenticated');
  }
}

/**
 * Whose token was refused, known only when its signature verified (an expired or revoked token
 * of ours): the audit trail's actor and client of the refusal. Never set for a token that did
 * not verify — its claims are whatever the sender wrote. Not part of the answer.
 */
export interface TokenHolder {
  subject?: string;
  clientId?: string;
}

/** The holder named by verified claims (`sub`, `client_id`), when they name one. */
export function holderOf(claims: { sub?: unknown; client_id?: unknown }): TokenHolder | undefined {
  const subject = typeof claims.sub === 'string' && claims.sub ? claims.sub : undefined;
  const clientId =
    typeof claims.client_id === 'string' && claims.client_id ? claims.client_id : undefined;
  return subject || clientId ? { subject, clientId } : undefined;
}

export class TokenExpiredError extends DomainError {
  /** `holder`: only from claims whose signature verified. */
  constructor(readonly holder?: TokenHolder) {
    super(ErrorCode.TokenExpired, 'Token has expired');
  }
}

export class InvalidTokenError extends DomainError {
  /** `reason` is for logs only; the client always sees the same detail. */
  constructor(readonly reason = 'invalid token') {
    super(ErrorCode.InvalidToken, 'Invalid authentication credentials');
  }
}

/** Password login failed. One answer for an unknown email, a wrong password and a disabled account. */
export class InvalidCredentialsError extends DomainError {
  constructor() {
    super(ErrorCode.InvalidCredentials, 'Invalid email or password');
  }
}

export class RevokedTokenError extends DomainError {
  /** `holder`: only from claims whose signature verified. */
  constructor(readonly holder?: TokenHolder) {
    super(ErrorCode.RevokedToken, 'Token has been revoked');
  }
}

export class InsufficientPermissionsError extends DomainError {
  constructor(required: string[]) {
    super(ErrorCode.InsufficientPermissions, 'Insufficient permissions', { required });
  }
}

/**
 * Which limit refused a request (`tessera_limit_refusals_total{limit}`): a principal's request
 * rate, a login lockout, a gateway token limit or spend budget.
 */
export type LimitKind = 'rate' | 'login' | 'token' | 'budget';

/** A gateway limit's refusal: the policy that refused (`20000/day`) and the model asked for. */
export interface GatewayLimit {
  policy: string;
  model: string;
}

/** 429 with `Retry-After` (seconds, when known): a rate limit, a token limit or a login lockout. */
export class RateLimitedError extends DomainError {
  constructor(
    readonly retryAfterSeconds?: number,
    detail = 'Too many requests',
    readonly limit: Exclude<LimitKind, 'budget'> = 'rate',
    readonly gateway?: GatewayLimit,
    /** A request rate limit's refusal: which of the principal's limits refused. */
    readonly request?: { policy: string; source: string },
  ) {
    super(
      ErrorCode.RateLimited,
      detail,
      retryAfterSeconds === undefined ? {} : { retry_after: retryAfterSeconds },
    );
  }
}

export class MisconfiguredError extends DomainError {
  constructor(reason: string) {
    super(ErrorCode.Misconfigured, reason);
  }
}

export class ValidationFailedError extends DomainError {
  /** `param`: the request field at fault (`messages[0].role`), for OpenAI's error object. */
  constructor(
    detail: string,
    readonly param?: string,
  ) {
    super(ErrorCode.ValidationFailed, detail);
  }
}

/**
 * Input refused at the edge (nesting too deep, control characters): a 400 like any validation
 * failure, answered as `invalid_request` on the OAuth endpoints.
 */
export class HostileInputError extends ValidationFailedError {}

/** A body over the limit (1 MB): 413, `invalid_request` on the OAuth endpoints. */
export class PayloadTooLargeError extends DomainError {
  constructor(detail: string) {
    super(ErrorCode.PayloadTooLarge, detail);
  }
}

/**
 * A body in a type or coding Tessera does not read (multipart, text/plain, gzip): 415 naming it,
 * `invalid_request` on the OAuth endpoints.
 */
export class UnsupportedMediaTypeError extends DomainError {
  constructor(detail: string) {
    super(ErrorCode.UnsupportedMediaType, detail);
  }
}

export class NotFoundError extends DomainError {
  constructor(detail: string) {
    super(ErrorCode.NotFound, detail);
  }
}

export class ConflictError extends DomainError {
  constructor(detail: string) {
    super(ErrorCode.Conflict, detail);
  }
}

export class ServiceUnavailableError extends DomainError {
  constructor(detail: string) {
    super(ErrorCode.ServiceUnavailable, detail);
  }
}

export class BadGatewayError extends DomainError {
  constructor(detail: string) {
    super(ErrorCode.BadGateway, detail);
  }
}

/** The upstream model server did not answer within the upstream's timeout. */
export class GatewayTimeoutError extends DomainError {
  constructor(detail: string) {
    super(ErrorCode.GatewayTimeout, detail);
  }
}

/** No upstream serves the model (and it is not the built-in echo model). */
export class ModelNotFoundError extends DomainError {
  constructor(model: string) {
    super(ErrorCode.ModelNotFound, `The model "${model}" does not exist or is not served here`);
  }
}

/** The caller's roles (narrowed by its client's or API key's `models`) do not cover the model. */
export class ModelNotAllowedError extends DomainError {
  constructor(model: string) {
    super(ErrorCode.ModelNotAllowed, `You may not invoke the model "${model}"`, { model });
  }
}

/** A budget (USD per window) is spent: 429 with `Retry-After` until the window resets. */
export class InsufficientQuotaError extends DomainError {
  readonly limit = 'budget';

  constructor(
    detail: string,
    readonly retryAfterSeconds?: number,
    readonly gateway?: GatewayLimit,
  ) {
    super(ErrorCode.InsufficientQuota, detail);
  }
}

/** RFC 6749 §5.2 error codes (plus RFC 7009 / 7662 usage); answered in OAuth form, not problem+json. */
export type OAuthErrorCode =
  | 'invalid_request'
  | 'invalid_client'
  | 'invalid_grant'
  | 'unauthorized_client'
  | 'unsupported_grant_type'
  | 'invalid_scope'
  | 'unsupported_token_type'
  /** RFC 6749 §5.2 (via §4.1.2.1): a temporary outage, e.g. the database does not answer. */
  | 'temporarily_unavailable'
  /** RFC 6750 §3.1: a bearer token presented to /oauth/introspect (RFC 7662 §2.1) is refused… */
  | 'invalid_token'
  /** …or lacks the permission. */
  | 'insufficient_scope';

export class OAuthError extends Error {
  constructor(
    readonly error: OAuthErrorCode,
    readonly description: string,
    /** invalid_client with HTTP Basic auth answers 401 with a Basic challenge (RFC 6749 §5.2). */
    readonly status = error === 'invalid_client' ? 401 : 400,
    /** Extra response headers, e.g. `Retry-After` on a login lockout. */
    readonly headers: Record<string, string> = {},
  ) {
    super(description);
    this.name = 'OAuthError';
  }
}
