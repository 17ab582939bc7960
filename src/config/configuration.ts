import { join } from 'node:path';
import { registerAs } from '@nestjs/config';
import { ConfigValidationError, validateEnv } from './env.validation';
import { loadAuthPolicy } from './policy/auth-policy';

/*
 * One namespace per concern; each module injects only its own
 * (`@Inject(keysConfig.KEY) cfg: ConfigType<typeof keysConfig>`).
 * ConfigModule's `validate` hook has already rejected a bad environment before these run.
 */
const env = () => validateEnv(process.env);

export const appConfig = registerAs('app', () => {
  const e = env();
  return {
    nodeEnv: e.nodeEnv,
    production: e.production,
    port: e.port,
    host: e.host,
    logLevel: e.logLevel,
    trustProxy: e.trustProxy,
  };
});

/**
 * The OpenAI-compatible model servers behind `/v1/*`: the policy's `gateway.upstreams`, then
 * `UPSTREAM_URL` (every model) as the one-upstream shorthand. None: the built-in echo model.
 * Upstream keys are read here, from the variables the policy names, so services never read
 * `process.env`.
 */
export const gatewayConfig = registerAs('gateway', () => {
  const e = env();
  const policy = loadAuthPolicy(e.authPolicyFile, e.production, e.authPolicyFileRequired);
  const upstreams = policy.gateway.upstreams.map((u) => {
    let apiKey: string | undefined;
    if (u.apiKeyEnv) {
      apiKey = process.env[u.apiKeyEnv]?.trim();
      if (!apiKey)
        throw new ConfigValidationError(
          u.apiKeyEnv,
          `is required: ${policy.source} gateway upstream "${u.name}" sends it as its API key`,
        );
    }
    return { name: u.name, url: u.url, apiKey, models: u.models, timeoutMs: u.timeoutMs };
  });
  if (e.upstreamUrl)
    upstreams.push({
      name: 'default',
      url: e.upstreamUrl.replace(/\/+$/, ''),
      apiKey: e.upstreamApiKey,
      models: ['*'],
      timeoutMs: e.upstreamTimeoutMs,
    });
  return { upstreams, prices: policy.gateway.prices };
});

/** The audit trail: how long events are kept, the in-memory bound, where overflow spills. */
export const auditConfig = registerAs('audit', () => {
  const e = env();
  return {
    retentionSeconds: e.auditRetention,
    bufferMax: e.auditBufferMax,
    writeIntervalMs: e.auditWriteIntervalMs,
    spillDir: join(e.dataDir, 'audit-spill'),
  };
});

/** Metrics: the optional unauthenticated listener. */
export const metricsConfig = registerAs('metrics', () => {
  const e = env();
  return { port: e.metricsPort, host: e.metricsHost };
});

export const databaseConfig = registerAs('database', () => {
  const e = env();
  return {
    url: e.databaseUrl,
    dataDir: e.dataDir,
    queryTimeoutMs: e.databaseQueryTimeoutMs,
    poolSize: e.databasePoolSize,
    workers: e.workers,
  };
});

export const jwtConfig = registerAs('jwt', () => {
  const e = env();
  return {
    issuer: e.jwtIssuer,
    audience: e.jwtAudience,
    algorithm: e.jwtAlgorithm,
    secretKey: e.jwtSecretKey,
    accessTokenTtl: e.accessTokenTtl,
    parentTokenTtl: e.parentTokenTtl,
    refreshTokenTtl: e.refreshTokenTtl,
    allowNonExpiringTokens: e.allowNonExpiringTokens,
    acceptLegacyHs256Tokens: e.acceptLegacyHs256Tokens,
  };
});

export const keysConfig = registerAs('keys', () => {
  const e = env();
  return {
    algorithm: e.jwtAlgorithm,
    secretKey: e.jwtSecretKey,
    encryptionKey: e.keyEncryptionKey,
    production: e.production,
    dataDir: e.dataDir,
    privateKeyPath: e.privateKeyPath,
    publicKeyPath: e.publicKeyPath,
    rotationInterval: e.keyRotationInterval,
    jwksMaxAge: e.jwksMaxAge,
    // A retiring key must verify every token it signed: the longest lifetime any token can have.
    maxTokenLifetime: Math.max(e.accessTokenTtl, e.parentTokenTtl, e.refreshTokenTtl),
  };
});

export const clientsConfig = registerAs('clients', () => {
  const e = env();
  return {
    bootstrap: e.bootstrapClients,
    production: e.production,
    // The client-secret pepper's sources, first one set wins (see ClientsModule).
    pepper: e.clientSecretPepper,
    encryptionKey: e.keyEncryptionKey,
    jwtSecretKey: e.jwtSecretKey,
    dataDir: e.dataDir,
  };
});

export const renewalConfig = registerAs('renewal', () => {
  const e = env();
  return {
    thresholdSeconds: e.autoRenewThresholdSeconds,
    intervalSeconds: e.autoRenewWorkerInterval,
  };
});

/** The declarative policy file (roles, permissions, rate limits, API keys, trusted issuers). */
export const policyConfig = registerAs('policy', () => {
  const e = env();
  const policy = loadAuthPolicy(e.authPolicyFile, e.production, e.authPolicyFileRequired);
  if (policy.rateLimitBackend === 'redis' && !e.redisUrl)
    throw new ConfigValidationError(
      'REDIS_URL',
      `is required: ${policy.source} sets rate_limit_backend: redis`,
    );
  // No explicit backend: share the budget through Redis whenever there is one (several
  // replicas with in-memory counters would each allow the full limit).
  const rateLimitBackend = policy.rateLimitBackend ?? (e.redisUrl ? 'redis' : 'memory');
  return {
    ...policy,
    rateLimitBackend,
    rateLimitBackendReason:
      policy.rateLimitBackend !== undefined
        ? `rate_limit_backend in ${policy.source}`
        : e.redisUrl
          ? 'REDIS_URL is set'
          : 'REDIS_URL is unset',
    redisUrl: e.redisUrl,
    redisKeyPrefix: e.redisKeyPrefix,
    production: e.production,
    envApiKeys: envApiKeys(process.env, policy.apiKeys.envPrefix),
  };
});

/** Password login: lockout thresholds (per account and per IP) and lockout length. */
export const usersConfig = registerAs('users', () => {
  const e = env();
  return {
    maxFailures: e.loginMaxFailures,
    maxFailuresPerIp: e.loginMaxFailuresPerIp,
    lockoutSeconds: e.loginLockout,
  };
});

/** JWKS fetching limits for the policy file's trusted issuers. */
export const issuersConfig = registerAs('issuers', () => {
  const e = env();
  return {
    refetchCooldownSeconds: e.jwksRefetchCooldown,
    timeoutMs: e.jwksTimeoutMs,
  };
});

/** Minimum length of an API key given in the environment (they are compared by digest). */
const MIN_ENV_API_KEY_LENGTH = 16;

/**
 * The API keys named by the policy's `api_keys.env_prefix`: `AGENT_KEY_PROD=…` is the key
 * named PROD. Read here, in the configuration layer, so services never read `process.env`.
 */
function envApiKeys(
  source: Record<string, string | undefined>,
  prefix: string | undefined,
): Array<{ name: string; key: string }> {
  if (!prefix) return [];
  return Object.entries(source)
    .filter(([name, value]) => name.startsWith(prefix) && name.length > prefix.length && value)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([name, value]) => {
      const key = (value as string).trim();
      if (key.length < MIN_ENV_API_KEY_LENGTH)
        throw new ConfigValidationError(
          name,
          `must be an API key of at least ${MIN_ENV_API_KEY_LENGTH} characters`,
        );
      return { name: name.slice(prefix.length), key };
    });
}

export const allConfig = [
  appConfig,
  databaseConfig,
  jwtConfig,
  keysConfig,
  clientsConfig,
  renewalConfig,
  policyConfig,
  gatewayConfig,
  auditConfig,
  metricsConfig,
  usersConfig,
  issuersConfig,
];
