import { isIP } from 'node:net';
import { availableParallelism } from 'node:os';
import { parseDuration } from '../common/duration';
import { ValidationFailedError } from '../common/errors';
import { checkGatewayGrant, GatewayGrant } from './policy/usage-limits';

/** Thrown when an environment variable is invalid; the message is the one line printed at start. */
/** In production, a client secret supplied through the environment must be this long. */
export const MIN_SUPPLIED_SECRET_LENGTH = 32;

export class ConfigValidationError extends Error {
  constructor(
    readonly variable: string,
    problem: string,
  ) {
    super(`Invalid configuration: ${variable} ${problem}`);
    this.name = 'ConfigValidationError';
  }
}

export const SIGNING_ALGORITHMS = ['RS256', 'PS256', 'ES256', 'HS256'] as const;
export type SigningAlgorithm = (typeof SIGNING_ALGORITHMS)[number];

export interface BootstrapClient {
  id: string;
  secret: string;
  roles?: string[];
  scopes?: string[];
  /** The gateway narrowing, as on `POST /admin/clients`: models, rate_limit, token_limit, budget. */
  grant?: GatewayGrant;
}

/** Every variable of SPEC.md, parsed and checked. Services never read `process.env` themselves. */
export interface TesseraEnv {
  nodeEnv: string;
  production: boolean;
  port: number;
  host: string;
  logLevel: string;
  databaseUrl?: string;
  dataDir: string;
  redisUrl?: string;
  /** Prefix of every Redis key Tessera writes (several deployments can share one Redis). */
  redisKeyPrefix: string;
  jwtIssuer: string;
  jwtAudience: string;
  jwtAlgorithm: SigningAlgorithm;
  jwtSecretKey?: string;
  accessTokenTtl: number;
  parentTokenTtl: number;
  refreshTokenTtl: number;
  keyEncryptionKey?: Buffer;
  /** ACCEPT_LEGACY_HS256_TOKENS: the shared-secret API's own tokens (HS256 mode only). */
  acceptLegacyHs256Tokens: boolean;
  /** DATABASE_QUERY_TIMEOUT_MS: how long a request waits on PostgreSQL before a 503. */
  databaseQueryTimeoutMs: number;
  /**
   * DATABASE_POOL_SIZE: the most connections one process (one worker) opens for requests; it
   * also holds one LISTEN connection, and a start-up or maintenance one while migrating.
   */
  databasePoolSize: number;
  /** CLIENT_SECRET_PEPPER: keys client-secret digests; derived from KEY_ENCRYPTION_KEY when unset. */
  clientSecretPepper?: Buffer;
  privateKeyPath?: string;
  publicKeyPath?: string;
  keyRotationInterval: number;
  jwksMaxAge: number;
  authPolicyFile: string;
  /** AUTH_POLICY_FILE was set: a missing file is then an error, not the built-in defaults. */
  authPolicyFileRequired: boolean;
  bootstrapClients: BootstrapClient[];
  autoRenewThresholdSeconds: number;
  autoRenewWorkerInterval: number;
  upstreamUrl?: string;
  /** Sent upstream as `Authorization: Bearer …`; never the caller's own token. */
  upstreamApiKey?: string;
  upstreamTimeoutMs: number;
  auditRetention: number;
  allowNonExpiringTokens: boolean;
  /** Failed logins per account / per IP within the window before a lockout. */
  loginMaxFailures: number;
  loginMaxFailuresPerIp: number;
  /** Seconds: the counting window and the lockout length. */
  loginLockout: number;
  /** Seconds between two JWKS refetches of a trusted issuer on an unknown kid. */
  jwksRefetchCooldown: number;
  /** Milliseconds before a trusted issuer's JWKS or discovery request is abandoned. */
  jwksTimeoutMs: number;
  /** Server processes (node:cluster) behind one port: 1 = no cluster; `auto` = one per CPU. */
  workers: number;
  /** Audit events held in memory before the oldest are spilled to DATA_DIR/audit-spill. */
  auditBufferMax: number;
  /** Under load, the least time between two audit statements (larger, fewer batches). */
  auditWriteIntervalMs: number;
  /** Set: /metrics is also served without authentication on this port (a separate listener). */
  metricsPort?: number;
  metricsHost: string;
  /** Set: OpenTelemetry traces are exported over OTLP/HTTP to this endpoint. */
  otlpEndpoint?: string;
  /**
   * Whose `X-Forwarded-For`/`-Proto` to believe (Fastify's `trustProxy`): addresses and ranges,
   * a hop count, or true/false. Default: proxies on loopback and private networks.
   */
  trustProxy: boolean | number | string[];
}

/** TRUST_PROXY's default: a proxy on this host, or on a private network (compose, a cluster). */
export const DEFAULT_TRUSTED_PROXIES = ['loopback', 'linklocal', 'uniquelocal'];

/**
 * TRUST_PROXY: `true` (any sender: only behind a proxy that overwrites the header), `false`
 * (never), a hop count, or a comma-separated list of addresses, CIDR ranges and the names
 * loopback, linklocal, uniquelocal.
 */
function trustProxy(env: Env): boolean | number | string[] {
  const raw = read(env, 'TRUST_PROXY');
  if (raw === undefined) return DEFAULT_TRUSTED_PROXIES;
  if (/^true$/i.test(raw)) return true;
  if (/^false$/i.test(raw)) return false;
  if (/^\d+$/.test(raw) && Number(raw) <= 32) return Number(raw);
  const entries = raw.split(',').map((e) => e.trim());
  const bad = entries.find((entry) => {
    if (DEFAULT_TRUSTED_PROXIES.includes(entry)) return false;
    const [address, bits, extra] = entry.split('/');
    if (extra !== undefined || isIP(address) === 0) return true;
    if (bits === undefined) return false;
    const max = isIP(address) === 4 ? 32 : 128;
    return !/^\d+$/.test(bits) || Number(bits) > max;
  });
  if (bad !== undefined)
    throw new ConfigValidationError(
      'TRUST_PROXY',
      `must be true, false, a hop count, or addresses and CIDR ranges (or loopback, linklocal, uniquelocal), comma-separated (got "${bad}")`,
    );
  return entries;
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

type Env = Record<string, string | undefined>;

function read(env: Env, name: string): string | undefined {
  const value = env[name];
  return value === undefined || value.trim() === '' ? undefined : value.trim();
}

function integer(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = read(env, name);
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!/^\d+$/.test(raw) || value < min || value > max) {
    throw new ConfigValidationError(
      name,
      `must be a whole number from ${min} to ${max} (got "${raw}")`,
    );
  }
  return value;
}

function duration(env: Env, name: string, fallback: string): number {
  const raw = read(env, name) ?? fallback;
  const seconds = parseDuration(raw);
  if (seconds === undefined) {
    throw new ConfigValidationError(
      name,
      `must be a duration such as 3600s, 30m, 24h, 7d or 4w (got "${raw}")`,
    );
  }
  return seconds;
}

function url(env: Env, name: string, protocols: string[]): string | undefined {
  const raw = read(env, name);
  if (raw === undefined) return undefined;
  let parsed: URL;
  try {
    parsed = new URL(raw);
  } catch {
    throw new ConfigValidationError(name, `must be a URL (${protocols.join(', ')})`);
  }
  if (!protocols.includes(parsed.protocol.replace(/:$/, ''))) {
    throw new ConfigValidationError(
      name,
      `must use one of ${protocols.join(', ')} (got "${parsed.protocol}")`,
    );
  }
  return raw;
}

function boolean(env: Env, name: string, fallback: boolean): boolean {
  const raw = read(env, name);
  if (raw === undefined) return fallback;
  if (/^(true|1|yes)$/i.test(raw)) return true;
  if (/^(false|0|no)$/i.test(raw)) return false;
  throw new ConfigValidationError(name, `must be true or false (got "${raw}")`);
}

/** WORKERS: a whole number (1–256) or `auto`, one process per CPU the system offers. */
function workers(env: Env): number {
  const raw = read(env, 'WORKERS');
  if (raw === undefined) return 1;
  if (raw.toLowerCase() === 'auto') return availableParallelism();
  const value = Number(raw);
  if (!/^\d+$/.test(raw) || value < 1 || value > 256)
    throw new ConfigValidationError(
      'WORKERS',
      `must be a whole number from 1 to 256 or auto (got "${raw}")`,
    );
  return value;
}

/** Accepts 32 bytes as 64 hex characters or as base64; anything else is refused. */
export function parseKeyEncryptionKey(raw: string, name = 'KEY_ENCRYPTION_KEY'): Buffer {
  if (/^[0-9a-fA-F]{64}$/.test(raw)) return Buffer.from(raw, 'hex');
  if (/^[A-Za-z0-9+/_-]{42,44}={0,2}$/.test(raw)) {
    const bytes = Buffer.from(raw.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
    if (bytes.length === 32) return bytes;
  }
  throw new ConfigValidationError(
    name,
    'must be 32 random bytes as 64 hex characters or base64 (generate one with: openssl rand -base64 32)',
  );
}

function stringList(value: unknown, where: string): string[] | undefined {
  if (value === undefined) return undefined;
  if (!Array.isArray(value) || value.some((v) => typeof v !== 'string' || v.trim() === '')) {
    throw new ConfigValidationError('AUTH_CLIENTS_JSON', `${where} must be an array of strings`);
  }
  return value as string[];
}

const CLIENT_FIELDS = [
  'secret',
  'roles',
  'scopes',
  'models',
  'rate_limit',
  'token_limit',
  'budget',
];

/**
 * A client's gateway fields, checked as the admin API checks them; a bad one stops the start
 * with a line naming the client and the field.
 */
function clientGrant(id: string, entry: Record<string, unknown>): GatewayGrant | undefined {
  const given = ['models', 'rate_limit', 'token_limit', 'budget'].filter((f) => f in entry);
  if (!given.length) return undefined;
  try {
    return checkGatewayGrant(entry as Parameters<typeof checkGatewayGrant>[0]);
  } catch (error) {
    if (!(error instanceof ValidationFailedError)) throw error;
    throw new ConfigValidationError('AUTH_CLIENTS_JSON', `client "${id}": ${error.message}`);
  }
}

/**
 * `{"id": "secret"}` or `{"id": {"secret": "...", "roles": [...], "scopes": [...], "models": [...],
 * "rate_limit": "100/minute", "token_limit": "20000/day", "budget": "5/month"}}`.
 */
export function parseClientsJson(raw: string): BootstrapClient[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new ConfigValidationError(
      'AUTH_CLIENTS_JSON',
      'must be a JSON object mapping client ids to secrets',
    );
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new ConfigValidationError(
      'AUTH_CLIENTS_JSON',
      'must be a JSON object mapping client ids to secrets',
    );
  }
  return Object.entries(parsed as Record<string, unknown>).map(([id, value]) => {
    if (typeof value === 'string') {
      if (value.length === 0)
        throw new ConfigValidationError('AUTH_CLIENTS_JSON', `client "${id}" has an empty secret`);
      return { id, secret: value };
    }
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      throw new ConfigValidationError(
        'AUTH_CLIENTS_JSON',
        `client "${id}" must be a secret string or an object`,
      );
    }
    const entry = value as Record<string, unknown>;
    if (typeof entry.secret !== 'string' || entry.secret.length === 0) {
      throw new ConfigValidationError(
        'AUTH_CLIENTS_JSON',
        `client "${id}" needs a non-empty "secret"`,
      );
    }
    const unknown = Object.keys(entry).filter((field) => !CLIENT_FIELDS.includes(field));
    if (unknown.length)
      throw new ConfigValidationError(
        'AUTH_CLIENTS_JSON',
        `client "${id}" has unknown field(s) ${unknown.join(', ')} (known: ${CLIENT_FIELDS.join(', ')})`,
      );
    const grant = clientGrant(id, entry);
    return {
      id,
      secret: entry.secret,
      roles: stringList(entry.roles, `client "${id}" roles`),
      scopes: stringList(entry.scopes, `client "${id}" scopes`),
      ...(grant ? { grant } : {}),
    };
  });
}

/** Parses and validates the whole environment. Throws {@link ConfigValidationError} on the first bad value. */
export function validateEnv(env: Env): TesseraEnv {
  const nodeEnv = read(env, 'NODE_ENV') ?? 'development';
  const production = nodeEnv === 'production';

  const algorithmRaw = (read(env, 'JWT_ALGORITHM') ?? 'RS256').toUpperCase();
  if (!(SIGNING_ALGORITHMS as readonly string[]).includes(algorithmRaw)) {
    throw new ConfigValidationError(
      'JWT_ALGORITHM',
      `must be one of ${SIGNING_ALGORITHMS.join(', ')} (got "${read(env, 'JWT_ALGORITHM')}")`,
    );
  }
  const jwtAlgorithm = algorithmRaw as SigningAlgorithm;
  const jwtSecretKey = read(env, 'JWT_SECRET_KEY');
  if (jwtAlgorithm === 'HS256' && (jwtSecretKey === undefined || jwtSecretKey.length < 32)) {
    throw new ConfigValidationError(
      'JWT_SECRET_KEY',
      'must be set and at least 32 characters long when JWT_ALGORITHM=HS256',
    );
  }

  const acceptLegacyHs256Tokens = boolean(env, 'ACCEPT_LEGACY_HS256_TOKENS', false);
  if (acceptLegacyHs256Tokens && jwtAlgorithm !== 'HS256')
    throw new ConfigValidationError(
      'ACCEPT_LEGACY_HS256_TOKENS',
      'is only allowed with JWT_ALGORITHM=HS256 (it accepts the shared-secret API’s tokens)',
    );

  const kekRaw = read(env, 'KEY_ENCRYPTION_KEY');
  if (production && kekRaw === undefined && jwtAlgorithm !== 'HS256') {
    throw new ConfigValidationError('KEY_ENCRYPTION_KEY', 'is required when NODE_ENV=production');
  }

  const privateKeyPath = read(env, 'PRIVATE_KEY_PATH');
  const publicKeyPath = read(env, 'PUBLIC_KEY_PATH');
  if (publicKeyPath && !privateKeyPath) {
    throw new ConfigValidationError('PRIVATE_KEY_PATH', 'must be set when PUBLIC_KEY_PATH is set');
  }

  const clients: BootstrapClient[] = [];
  const clientId = read(env, 'AUTH_CLIENT_ID');
  const clientSecret = read(env, 'AUTH_CLIENT_SECRET');
  if (clientId && !clientSecret) {
    throw new ConfigValidationError('AUTH_CLIENT_SECRET', 'must be set when AUTH_CLIENT_ID is set');
  }
  if (clientSecret && !clientId) {
    throw new ConfigValidationError('AUTH_CLIENT_ID', 'must be set when AUTH_CLIENT_SECRET is set');
  }
  if (clientId && clientSecret) clients.push({ id: clientId, secret: clientSecret });
  const clientsJson = read(env, 'AUTH_CLIENTS_JSON');
  if (clientsJson) clients.push(...parseClientsJson(clientsJson));
  if (production) {
    // A supplied secret is only as strong as its length: a weak one stops the start (in
    // development it is a warning, so the prototype's `super-secret-local` keeps working).
    for (const client of clients) {
      if (client.secret.length < MIN_SUPPLIED_SECRET_LENGTH)
        throw new ConfigValidationError(
          client.id === clientId && client.secret === clientSecret
            ? 'AUTH_CLIENT_SECRET'
            : 'AUTH_CLIENTS_JSON',
          `client "${client.id}": the secret is ${client.secret.length} characters; at least ${MIN_SUPPLIED_SECRET_LENGTH} are required when NODE_ENV=production`,
        );
    }
  }
  const pepperRaw = read(env, 'CLIENT_SECRET_PEPPER');
  if (pepperRaw !== undefined && pepperRaw.length < 32)
    throw new ConfigValidationError('CLIENT_SECRET_PEPPER', 'must be at least 32 characters long');

  const port = integer(env, 'PORT', 3000, 0, 65535);
  const logLevel = read(env, 'LOG_LEVEL') ?? (nodeEnv === 'test' ? 'warn' : 'info');
  if (!LOG_LEVELS.includes(logLevel)) {
    throw new ConfigValidationError(
      'LOG_LEVEL',
      `must be one of ${LOG_LEVELS.join(', ')} (got "${logLevel}")`,
    );
  }
  // The default issuer is the address the server is reached at (README: http://127.0.0.1:3000),
  // so OIDC clients' discovery issuer check passes against the URL people use (the SPEC's
  // `http://localhost:3000` did not match it). A wildcard HOST gives no URL: 127.0.0.1 then.
  const host = read(env, 'HOST') ?? '127.0.0.1';
  const issuerHost = ['0.0.0.0', '::', '[::]'].includes(host)
    ? '127.0.0.1'
    : host.includes(':')
      ? `[${host}]`
      : host;
  const jwtIssuer =
    url(env, 'JWT_ISSUER', ['http', 'https']) ?? `http://${issuerHost}:${port || 3000}`;

  return {
    nodeEnv,
    production,
    port,
    host,
    logLevel,
    databaseUrl: url(env, 'DATABASE_URL', ['postgres', 'postgresql']),
    dataDir: read(env, 'DATA_DIR') ?? './.data',
    databaseQueryTimeoutMs: integer(env, 'DATABASE_QUERY_TIMEOUT_MS', 1000, 100, 600_000),
    databasePoolSize: integer(env, 'DATABASE_POOL_SIZE', 10, 1, 100),
    redisUrl: url(env, 'REDIS_URL', ['redis', 'rediss']),
    redisKeyPrefix: read(env, 'REDIS_KEY_PREFIX') ?? 'tessera:',
    jwtIssuer,
    jwtAudience: read(env, 'JWT_AUDIENCE') ?? 'tessera',
    jwtAlgorithm,
    jwtSecretKey,
    accessTokenTtl: duration(env, 'ACCESS_TOKEN_TTL', '15m'),
    parentTokenTtl: duration(env, 'PARENT_TOKEN_TTL', '30d'),
    refreshTokenTtl: duration(env, 'REFRESH_TOKEN_TTL', '30d'),
    keyEncryptionKey: kekRaw === undefined ? undefined : parseKeyEncryptionKey(kekRaw),
    clientSecretPepper: pepperRaw === undefined ? undefined : Buffer.from(pepperRaw, 'utf8'),
    privateKeyPath,
    publicKeyPath,
    keyRotationInterval: duration(env, 'KEY_ROTATION_INTERVAL', '30d'),
    jwksMaxAge: integer(env, 'JWKS_MAX_AGE', 300, 0, 86400),
    workers: workers(env),
    authPolicyFile: read(env, 'AUTH_POLICY_FILE') ?? 'config/auth.yaml',
    authPolicyFileRequired: read(env, 'AUTH_POLICY_FILE') !== undefined,
    bootstrapClients: clients,
    autoRenewThresholdSeconds: integer(env, 'AUTO_RENEW_THRESHOLD_SECONDS', 120, 1, 86400),
    autoRenewWorkerInterval: integer(env, 'AUTO_RENEW_WORKER_INTERVAL', 30, 1, 86400),
    upstreamUrl: url(env, 'UPSTREAM_URL', ['http', 'https']),
    upstreamApiKey: read(env, 'UPSTREAM_API_KEY'),
    upstreamTimeoutMs: integer(env, 'UPSTREAM_TIMEOUT_MS', 120_000, 1000, 3_600_000),
    auditRetention: duration(env, 'AUDIT_RETENTION', '90d'),
    allowNonExpiringTokens: boolean(env, 'ALLOW_NON_EXPIRING_TOKENS', false),
    acceptLegacyHs256Tokens,
    loginMaxFailures: integer(env, 'LOGIN_MAX_FAILURES', 5, 1, 1000),
    loginMaxFailuresPerIp: integer(env, 'LOGIN_MAX_FAILURES_PER_IP', 20, 1, 100000),
    loginLockout: duration(env, 'LOGIN_LOCKOUT', '15m'),
    jwksRefetchCooldown: integer(env, 'JWKS_REFETCH_COOLDOWN_SECONDS', 30, 0, 86400),
    jwksTimeoutMs: integer(env, 'JWKS_TIMEOUT_MS', 5000, 100, 60000),
    auditBufferMax: integer(env, 'AUDIT_BUFFER_MAX', 10_000, 100, 10_000_000),
    auditWriteIntervalMs: integer(env, 'AUDIT_WRITE_INTERVAL_MS', 25, 0, 1000),
    metricsPort:
      read(env, 'METRICS_PORT') === undefined
        ? undefined
        : integer(env, 'METRICS_PORT', 0, 0, 65535),
    metricsHost: read(env, 'METRICS_HOST') ?? read(env, 'HOST') ?? '127.0.0.1',
    otlpEndpoint: url(env, 'OTEL_EXPORTER_OTLP_ENDPOINT', ['http', 'https']),
    trustProxy: trustProxy(env),
  };
}
