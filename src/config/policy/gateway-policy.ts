import { parseDuration } from '../../common/duration';

/** One OpenAI-compatible server behind `/v1/*`, as the policy's `gateway.upstreams` names it. */
export interface UpstreamDefinition {
  name: string;
  /** Base URL without a trailing slash; Tessera appends `/v1/...`. */
  url: string;
  /** Environment variable holding the key sent upstream as `Authorization: Bearer …`. */
  apiKeyEnv?: string;
  /** Model ids routed here, as globs (`llama-*`). */
  models: string[];
  timeoutMs: number;
}

/** USD per 1M tokens for the models matching `model` (a glob). */
export interface ModelPrice {
  model: string;
  input: number;
  output: number;
}

export interface GatewayPolicy {
  upstreams: UpstreamDefinition[];
  prices: ModelPrice[];
}

export const DEFAULT_UPSTREAM_TIMEOUT_MS = 120_000;

type Path = Array<string | number>;
type Fail = (path: Path, problem: string) => never;

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** `llama-*` → /^llama-.*$/ ; `?` is one character; everything else is literal. */
export function globToRegExp(glob: string): RegExp {
  const body = glob
    .split('')
    .map((c) => (c === '*' ? '.*' : c === '?' ? '.' : c.replace(/[.+^${}()|[\]\\/-]/g, '\\$&')))
    .join('');
  return new RegExp(`^${body}$`);
}

/** Does any of the globs match `value`? (A compiled list: call `compileGlobs` once, not per request.) */
export function compileGlobs(globs: readonly string[]): (value: string) => boolean {
  if (globs.includes('*')) return () => true;
  const patterns = globs.map(globToRegExp);
  return (value) => patterns.some((p) => p.test(value));
}

/**
 * The policy's top-level `gateway:` section: the upstream model servers and the prices of their
 * models. Every error names the key path (the caller adds file and line).
 */
export function parseGatewayPolicy(value: unknown, fail: Fail): GatewayPolicy {
  const policy: GatewayPolicy = { upstreams: [], prices: [] };
  if (value === undefined || value === null) return policy;
  if (!isObject(value)) return fail(['gateway'], 'must be a mapping (upstreams, prices)');
  for (const key of Object.keys(value)) {
    if (key !== 'upstreams' && key !== 'prices')
      fail(['gateway', key], 'unknown key (expected upstreams or prices)');
  }
  if (value.upstreams !== undefined) {
    if (!Array.isArray(value.upstreams))
      fail(['gateway', 'upstreams'], 'must be a list of {name, url, models}');
    const names = new Set<string>();
    (value.upstreams as unknown[]).forEach((entry, i) => {
      const path: Path = ['gateway', 'upstreams', i];
      if (!isObject(entry)) return fail(path, 'must be a mapping');
      for (const key of Object.keys(entry)) {
        if (!['name', 'url', 'api_key_env', 'models', 'timeout'].includes(key))
          fail([...path, key], 'unknown key (expected name, url, api_key_env, models, timeout)');
      }
      if (typeof entry.name !== 'string' || !/^[A-Za-z0-9_.-]+$/.test(entry.name))
        fail([...path, 'name'], 'must be a name (letters, digits, _ . -)');
      const name = entry.name as string;
      if (names.has(name)) fail([...path, 'name'], `upstream "${name}" is defined twice`);
      names.add(name);
      let url: URL | undefined;
      try {
        url = typeof entry.url === 'string' ? new URL(entry.url) : undefined;
      } catch {
        url = undefined;
      }
      if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:'))
        fail([...path, 'url'], 'must be an http(s) base URL such as http://127.0.0.1:8000');
      if (
        entry.api_key_env !== undefined &&
        (typeof entry.api_key_env !== 'string' || !/^[A-Z_][A-Z0-9_]*$/.test(entry.api_key_env))
      )
        fail([...path, 'api_key_env'], 'must be an environment variable name such as VLLM_API_KEY');
      const models = entry.models === undefined ? ['*'] : entry.models;
      if (
        !Array.isArray(models) ||
        models.length === 0 ||
        models.some((m) => typeof m !== 'string' || m.trim() === '')
      )
        fail([...path, 'models'], 'must be a list of model ids or globs such as "llama-*"');
      let timeoutMs = DEFAULT_UPSTREAM_TIMEOUT_MS;
      if (entry.timeout !== undefined) {
        const seconds = parseDuration(entry.timeout as string | number);
        if (seconds === undefined || seconds > 3600)
          fail([...path, 'timeout'], 'must be a duration such as 120s or 5m (at most 1h)');
        timeoutMs = (seconds as number) * 1000;
      }
      policy.upstreams.push({
        name,
        url: (entry.url as string).replace(/\/+$/, ''),
        apiKeyEnv: entry.api_key_env as string | undefined,
        models: models as string[],
        timeoutMs,
      });
    });
  }
  if (value.prices !== undefined) {
    if (!isObject(value.prices))
      fail(['gateway', 'prices'], 'must map model globs to { input, output } (USD per 1M tokens)');
    for (const [model, price] of Object.entries(value.prices as Record<string, unknown>)) {
      const path: Path = ['gateway', 'prices', model];
      const ok = (v: unknown) => typeof v === 'number' && Number.isFinite(v) && v >= 0;
      if (!isObject(price) || !ok(price.input ?? 0) || !ok(price.output ?? 0))
        fail(path, 'must be { input: <USD per 1M tokens>, output: <USD per 1M tokens> }');
      const p = price as { input?: number; output?: number };
      policy.prices.push({ model, input: p.input ?? 0, output: p.output ?? 0 });
    }
  }
  return policy;
}
