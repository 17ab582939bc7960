import { ValidationFailedError } from '../../common/errors';
import { compileGlobs } from './gateway-policy';

/** The windows of token limits and budgets; minute, hour and day are fixed UTC windows. */
export type LimitWindow = 'minute' | 'hour' | 'day' | 'month';

/** An amount per window: tokens (`200000/minute`) or US dollars (`5/month`). */
export interface AmountLimit {
  amount: number;
  window: LimitWindow;
  /** As written. */
  text: string;
}

const WINDOW_MS: Record<Exclude<LimitWindow, 'month'>, number> = {
  minute: 60_000,
  hour: 3_600_000,
  day: 86_400_000,
};

/** `200000/minute`, `5/month`, `2.50/day` (a whole number unless `decimals`). */
export function parseAmountLimit(text: unknown, decimals: boolean): AmountLimit | undefined {
  if (typeof text !== 'string') return undefined;
  const match = /^\s*(\d+(?:\.\d+)?)\s*\/\s*(minute|hour|day|month)s?\s*$/i.exec(text);
  if (!match) return undefined;
  const amount = Number(match[1]);
  if (!Number.isFinite(amount) || amount <= 0 || (!decimals && !Number.isInteger(amount)))
    return undefined;
  return { amount, window: match[2].toLowerCase() as LimitWindow, text: text.trim() };
}

/** The window `now` falls in: a key for its counter and when it ends (ms since the epoch). */
export function windowOf(window: LimitWindow, now: number): { key: string; resetAt: number } {
  if (window === 'month') {
    const date = new Date(now);
    const start = Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), 1);
    const resetAt = Date.UTC(date.getUTCFullYear(), date.getUTCMonth() + 1, 1);
    return { key: `m${start}`, resetAt };
  }
  const size = WINDOW_MS[window];
  const start = Math.floor(now / size) * size;
  return { key: `${window[0]}${start}`, resetAt: start + size };
}

/** The narrowing a client or an API key may carry: models and its own limits. */
export interface GatewayGrant {
  /** Model ids or globs; the caller's roles still have to allow them. */
  models?: string[];
  /** Requests per window (`100/minute`), like the policy's `rate_limits`. */
  rate_limit?: string;
  /** Prompt + completion tokens per window. */
  token_limit?: string;
  /** US dollars per window, priced by `gateway.prices`. */
  budget?: string;
}

/** A model id or glob (`llama-*`, `meta-llama/Llama-3-*`): in `models` lists and `invoke:<glob>`. */
export const MODEL_GLOB = /^[A-Za-z0-9._:/@*?-]{1,256}$/;

/**
 * Checks a client's or an API key's grant (admin API, CLI): a 400 naming the field otherwise.
 * Returns it without empty members.
 */
export function checkGatewayGrant(grant: {
  [K in keyof GatewayGrant]?: GatewayGrant[K] | null;
}): GatewayGrant {
  const out: GatewayGrant = {};
  if (grant.models !== undefined && grant.models !== null) {
    if (
      !Array.isArray(grant.models) ||
      grant.models.length > 100 ||
      grant.models.some((m) => typeof m !== 'string' || !MODEL_GLOB.test(m))
    )
      throw new ValidationFailedError(
        'models must be a list of at most 100 model ids or globs such as "llama-*"',
        'models',
      );
    out.models = grant.models;
  }
  const limits: Array<[keyof GatewayGrant, boolean, string]> = [
    ['rate_limit', false, '"100/minute"'],
    ['token_limit', false, '"20000/day"'],
    ['budget', true, '"5/month" (US dollars)'],
  ];
  for (const [field, decimals, example] of limits) {
    const value = grant[field];
    if (value === undefined || value === null) continue;
    if (!parseAmountLimit(value, decimals))
      throw new ValidationFailedError(
        `${field} must look like ${example} (minute, hour, day or month)`,
        field,
      );
    (out as Record<string, unknown>)[field] = value;
  }
  return out;
}

/** A compiled `models` list (undefined: no narrowing). */
export function modelsMatcher(models: unknown): ((model: string) => boolean) | undefined {
  if (!Array.isArray(models)) return undefined;
  return compileGlobs(models.filter((m): m is string => typeof m === 'string'));
}

/**
 * The claims a client's tokens carry for its grant (`models`, `limits`), so the gateway reads
 * them from the verified token, with no lookup per request. A change applies to new tokens.
 */
export function grantClaims(grant: {
  [K in keyof GatewayGrant]?: GatewayGrant[K] | null;
}): Record<string, unknown> {
  const claims: Record<string, unknown> = {};
  if (grant.models) claims.models = grant.models;
  const limits: Record<string, string> = {};
  if (grant.rate_limit) limits.rate_limit = grant.rate_limit;
  if (grant.token_limit) limits.token_limit = grant.token_limit;
  if (grant.budget) limits.budget = grant.budget;
  if (Object.keys(limits).length) claims.limits = limits;
  return claims;
}
