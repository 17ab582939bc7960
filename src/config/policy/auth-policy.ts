import { readFileSync } from 'node:fs';
import { LineCounter, parseDocument } from 'yaml';
import { GatewayPolicy, parseGatewayPolicy } from './gateway-policy';
import { AmountLimit, parseAmountLimit } from './usage-limits';

export type AuthMode = 'jwt' | 'api_key' | 'none';

export interface RoleDefinition {
  name: string;
  permissions: string[];
}

export interface RateLimit {
  limit: number;
  /** Window in seconds. */
  window: number;
  /** As written, e.g. "100/minute". */
  text: string;
}

export interface TrustedIssuer {
  issuer: string;
  jwksUrl?: string;
  /** Discover jwks_uri from `${issuer}/.well-known/openid-configuration`. */
  discovery: boolean;
  audience: string[];
  algorithms: string[];
  leewaySeconds: number;
  /** Principal field → dotted claim path (`user_id: oid`, `email: emails.0`). */
  claims: Record<string, string>;
}

export interface AuthPolicy {
  modes: AuthMode[];
  jwt: { leewaySeconds: number };
  apiKeys: { header: string; envPrefix?: string; envRoles: string[] };
  roles: RoleDefinition[];
  rateLimits: Record<string, RateLimit>;
  /** Unset: Redis when REDIS_URL is set, else memory (configuration.ts decides). */
  rateLimitBackend?: 'memory' | 'redis';
  /** Prompt + completion tokens per role (or `default`), counted at the gateway. */
  tokenLimits: Record<string, AmountLimit>;
  /** US dollars per role (or `default`), priced by `gateway.prices`. */
  budgets: Record<string, AmountLimit>;
  defaultRole: string;
  trustedIssuers: TrustedIssuer[];
  /** The top-level `gateway:` section: upstream model servers and prices. */
  gateway: GatewayPolicy;
  /** Where it came from, for messages. */
  source: string;
}

/** A policy error names the file, the key path and, when known, the line. */
export class PolicyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PolicyError';
  }
}

const UNITS: Record<string, number> = { second: 1, minute: 60, hour: 3600, day: 86400 };

export function parseRateLimit(text: string): RateLimit | undefined {
  const match = /^\s*(\d+)\s*\/\s*(\d+)?\s*(second|minute|hour|day)s?\s*$/i.exec(text);
  if (!match) return undefined;
  const limit = Number(match[1]);
  const window = (match[2] ? Number(match[2]) : 1) * UNITS[match[3].toLowerCase()];
  if (limit < 1 || window < 1) return undefined;
  return { limit, window, text: text.trim() };
}

export const DEFAULT_POLICY: Omit<AuthPolicy, 'source'> = {
  modes: ['jwt', 'api_key'],
  jwt: { leewaySeconds: 0 },
  apiKeys: { header: 'X-API-Key', envPrefix: 'AGENT_KEY_', envRoles: ['operator'] },
  roles: [
    { name: 'admin', permissions: ['*'] },
    { name: 'operator', permissions: ['invoke', 'view_metrics'] },
    { name: 'viewer', permissions: ['view_metrics'] },
  ],
  rateLimits: {},
  rateLimitBackend: undefined,
  tokenLimits: {},
  budgets: {},
  defaultRole: 'operator',
  trustedIssuers: [],
  gateway: { upstreams: [], prices: [] },
};

type Path = Array<string | number>;

/**
 * Parses and validates the declarative policy (`config/auth.yaml`). Every error names the key
 * path and line: `config/auth.yaml:12 auth.rate_limits.operator: must look like "100/minute"`.
 */
export function parseAuthPolicy(text: string, source: string, production: boolean): AuthPolicy {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false });
  if (doc.errors.length) {
    const error = doc.errors[0];
    const line = error.pos ? lineCounter.linePos(error.pos[0]).line : undefined;
    throw new PolicyError(
      `${source}${line ? `:${line}` : ''}: invalid YAML (${error.message.split('\n')[0]})`,
    );
  }
  const fail = (path: Path, problem: string): never => {
    const node = doc.getIn(path, true) as { range?: [number, number, number] } | undefined;
    const at = node?.range ? `:${lineCounter.linePos(node.range[0]).line}` : '';
    throw new PolicyError(`${source}${at} ${path.join('.')}: ${problem}`);
  };

  const root = doc.toJS() as unknown;
  if (root === null || root === undefined) return { ...DEFAULT_POLICY, source };
  if (!isObject(root) || !isObject(root.auth))
    return fail(['auth'], 'the file must have a top-level "auth" mapping');
  const auth = root.auth;
  const known = [
    'modes',
    'mode',
    'jwt',
    'api_keys',
    'roles',
    'rate_limits',
    'rate_limit_backend',
    'token_limits',
    'budgets',
    'default_role',
    'trusted_issuers',
  ];
  for (const key of Object.keys(auth)) {
    if (!known.includes(key))
      fail(['auth', key], `unknown key (expected one of ${known.join(', ')})`);
  }

  const strings = (value: unknown, path: Path): string[] => {
    if (!Array.isArray(value) || value.some((v) => typeof v !== 'string' || v.trim() === '')) {
      return fail(path, 'must be a list of non-empty strings');
    }
    return value as string[];
  };

  // modes (or the single-mode form `mode: jwt`)
  let modes = DEFAULT_POLICY.modes;
  if (auth.modes !== undefined || auth.mode !== undefined) {
    const key = auth.modes !== undefined ? 'modes' : 'mode';
    const raw = auth.modes ?? [auth.mode];
    modes = strings(raw, ['auth', key]) as AuthMode[];
    for (const [i, mode] of modes.entries()) {
      if (!['jwt', 'api_key', 'none'].includes(mode))
        fail(['auth', key, i], `unknown mode "${mode}" (jwt, api_key or none)`);
    }
    if (modes.length === 0) fail(['auth', key], 'must name at least one mode');
    if (modes.includes('none') && production)
      fail(['auth', key], 'mode "none" is refused when NODE_ENV=production');
  }

  const jwt = { ...DEFAULT_POLICY.jwt };
  if (auth.jwt !== undefined) {
    if (!isObject(auth.jwt)) fail(['auth', 'jwt'], 'must be a mapping');
    const j = auth.jwt as Record<string, unknown>;
    if (j.leeway_seconds !== undefined)
      jwt.leewaySeconds = nonNegativeInt(j.leeway_seconds, ['auth', 'jwt', 'leeway_seconds'], fail);
  }

  const apiKeys = { ...DEFAULT_POLICY.apiKeys };
  if (auth.api_keys !== undefined) {
    if (!isObject(auth.api_keys)) fail(['auth', 'api_keys'], 'must be a mapping');
    const a = auth.api_keys as Record<string, unknown>;
    if (a.header !== undefined) {
      if (typeof a.header !== 'string' || !/^[A-Za-z0-9-]+$/.test(a.header))
        fail(['auth', 'api_keys', 'header'], 'must be an HTTP header name');
      apiKeys.header = a.header as string;
    }
    const prefix = a.env_prefix ?? a.prefix;
    if (prefix !== undefined) {
      if (typeof prefix !== 'string' || !/^[A-Z0-9_]+$/.test(prefix))
        fail(
          ['auth', 'api_keys', 'env_prefix'],
          'must be an environment variable prefix such as AGENT_KEY_',
        );
      apiKeys.envPrefix = prefix as string;
    }
    if (a.env_roles !== undefined)
      apiKeys.envRoles = strings(a.env_roles, ['auth', 'api_keys', 'env_roles']);
  }

  let roles = DEFAULT_POLICY.roles;
  if (auth.roles !== undefined) {
    if (!Array.isArray(auth.roles))
      fail(['auth', 'roles'], 'must be a list of {name, permissions}');
    roles = (auth.roles as unknown[]).map((role, i) => {
      if (
        !isObject(role) ||
        typeof role.name !== 'string' ||
        !/^[A-Za-z0-9_.:-]+$/.test(role.name)
      ) {
        return fail(['auth', 'roles', i], 'each role needs a "name" (letters, digits, _ . : -)');
      }
      return {
        name: role.name,
        permissions: strings(role.permissions ?? [], ['auth', 'roles', i, 'permissions']),
      };
    });
    const seen = new Set<string>();
    roles.forEach((r, i) => {
      if (seen.has(r.name)) fail(['auth', 'roles', i, 'name'], `role "${r.name}" is defined twice`);
      seen.add(r.name);
    });
  }
  const roleNames = new Set(roles.map((r) => r.name));
  const checkRoles = (list: string[], path: Path) =>
    list.forEach((r, i) => roleNames.has(r) || fail([...path, i], `unknown role "${r}"`));
  checkRoles(apiKeys.envRoles, ['auth', 'api_keys', 'env_roles']);

  const rateLimits: Record<string, RateLimit> = {};
  if (auth.rate_limits !== undefined) {
    if (!isObject(auth.rate_limits))
      fail(
        ['auth', 'rate_limits'],
        'must map role names (or "default") to limits like "100/minute"',
      );
    for (const [role, value] of Object.entries(auth.rate_limits as Record<string, unknown>)) {
      if (role !== 'default' && !roleNames.has(role))
        fail(['auth', 'rate_limits', role], `unknown role "${role}"`);
      const parsed = typeof value === 'string' ? parseRateLimit(value) : undefined;
      if (!parsed)
        fail(
          ['auth', 'rate_limits', role],
          'must look like "100/minute" (second, minute, hour or day)',
        );
      rateLimits[role] = parsed as RateLimit;
    }
  }

  const amounts = (key: 'token_limits' | 'budgets', decimals: boolean, example: string) => {
    const out: Record<string, AmountLimit> = {};
    if (auth[key] === undefined) return out;
    if (!isObject(auth[key]))
      fail(['auth', key], `must map role names (or "default") to limits like "${example}"`);
    for (const [role, value] of Object.entries(auth[key] as Record<string, unknown>)) {
      if (role !== 'default' && !roleNames.has(role))
        fail(['auth', key, role], `unknown role "${role}"`);
      const parsed = parseAmountLimit(value, decimals);
      if (!parsed)
        fail(['auth', key, role], `must look like "${example}" (minute, hour, day or month)`);
      out[role] = parsed as AmountLimit;
    }
    return out;
  };
  const tokenLimits = amounts('token_limits', false, '20000/day');
  const budgets = amounts('budgets', true, '5/month');

  let rateLimitBackend: 'memory' | 'redis' | undefined;
  if (auth.rate_limit_backend !== undefined) {
    if (auth.rate_limit_backend !== 'memory' && auth.rate_limit_backend !== 'redis') {
      fail(['auth', 'rate_limit_backend'], 'must be "memory" or "redis"');
    }
    rateLimitBackend = auth.rate_limit_backend as 'memory' | 'redis';
  }

  let defaultRole = DEFAULT_POLICY.defaultRole;
  if (auth.default_role !== undefined) {
    if (typeof auth.default_role !== 'string')
      fail(['auth', 'default_role'], 'must be a role name');
    defaultRole = auth.default_role as string;
  }
  if (!roleNames.has(defaultRole)) fail(['auth', 'default_role'], `unknown role "${defaultRole}"`);

  const trustedIssuers: TrustedIssuer[] = [];
  if (auth.trusted_issuers !== undefined) {
    if (!Array.isArray(auth.trusted_issuers)) fail(['auth', 'trusted_issuers'], 'must be a list');
    (auth.trusted_issuers as unknown[]).forEach((entry, i) => {
      const path: Path = ['auth', 'trusted_issuers', i];
      if (!isObject(entry)) return fail(path, 'must be a mapping');
      if (typeof entry.issuer !== 'string' || !isUrl(entry.issuer))
        fail([...path, 'issuer'], 'must be the issuer URL');
      if (
        entry.jwks_url !== undefined &&
        (typeof entry.jwks_url !== 'string' || !isUrl(entry.jwks_url))
      ) {
        fail([...path, 'jwks_url'], 'must be a URL');
      }
      const discovery =
        entry.discovery === undefined ? entry.jwks_url === undefined : entry.discovery === true;
      if (entry.jwks_url === undefined && !discovery)
        fail([...path], 'needs jwks_url or discovery: true');
      const audience =
        entry.audience === undefined
          ? fail(
              [...path, 'audience'],
              'is required (a token for another API must not be accepted)',
            )
          : typeof entry.audience === 'string'
            ? [entry.audience]
            : strings(entry.audience, [...path, 'audience']);
      const algorithms =
        entry.algorithms === undefined
          ? ['RS256']
          : strings(entry.algorithms, [...path, 'algorithms']);
      algorithms.forEach((alg, j) => {
        if (!/^(RS|PS|ES)(256|384|512)$|^EdDSA$/.test(alg))
          fail([...path, 'algorithms', j], `algorithm "${alg}" is not allowed (asymmetric only)`);
      });
      const claims: Record<string, string> = {
        user_id: 'sub',
        email: 'email',
        name: 'name',
        roles: 'roles',
      };
      if (entry.claims !== undefined) {
        if (!isObject(entry.claims))
          fail([...path, 'claims'], 'must map principal fields to claim paths');
        for (const [field, claim] of Object.entries(entry.claims as Record<string, unknown>)) {
          if (typeof claim !== 'string' || claim === '')
            fail([...path, 'claims', field], 'must be a claim path such as oid or org.tenant_id');
          claims[field] = claim as string;
        }
      }
      trustedIssuers.push({
        issuer: entry.issuer as string,
        jwksUrl: entry.jwks_url as string | undefined,
        discovery,
        audience,
        algorithms,
        leewaySeconds:
          entry.leeway_seconds === undefined
            ? 0
            : nonNegativeInt(entry.leeway_seconds, [...path, 'leeway_seconds'], fail),
        claims,
      });
    });
  }

  return {
    modes,
    jwt,
    apiKeys,
    roles,
    rateLimits,
    rateLimitBackend,
    tokenLimits,
    budgets,
    defaultRole,
    trustedIssuers,
    gateway: parseGatewayPolicy(root.gateway, fail),
    source,
  };
}

/** Reads the policy file; a missing file at the default path means the built-in defaults. */
export function loadAuthPolicy(file: string, production: boolean, required: boolean): AuthPolicy {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT' && !required)
      return { ...DEFAULT_POLICY, source: '(built-in defaults)' };
    throw new PolicyError(`AUTH_POLICY_FILE: cannot read ${file} (${(error as Error).message})`);
  }
  return parseAuthPolicy(text, file, production);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function isUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return url.protocol === 'https:' || url.protocol === 'http:';
  } catch {
    return false;
  }
}

function nonNegativeInt(
  value: unknown,
  path: Path,
  fail: (path: Path, problem: string) => never,
): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 3600) {
    return fail(path, 'must be a whole number of seconds from 0 to 3600');
  }
  return value;
}
