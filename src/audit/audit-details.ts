/**
 * What an audit event may hold: PostgreSQL stores these values and gives them back unchanged
 * (the chain's hash covers them), and no secret reaches them.
 */

/** Keys whose values are never stored, at any depth (a before/after snapshot nests). */
const SECRET_KEYS = /secret|password|token|authorization|api_?key|credential|cookie|^key$/i;

/** The longest text column value kept (actor, target, user agent…). */
const MAX_TEXT = 500;
const MAX_DETAILS_DEPTH = 64;

/**
 * The details as PostgreSQL stores them and gives them back unchanged (the hash covers them), in
 * one pass: what `JSON.stringify` keeps (`toJSON` applied, so a Date is its ISO string; undefined
 * and functions left out, or null in an array; non-finite numbers null), the value of every
 * secret-named key at any depth `[redacted]`, and no NUL characters or lone surrogates (text and
 * jsonb refuse them). Throws on a BigInt or a cycle, as `JSON.stringify` would (`record` logs it).
 */
export function cleanDetails(value: unknown, depth: number): unknown {
  switch (typeof value) {
    case 'string':
      return cleanString(value);
    case 'number':
      return Number.isFinite(value) ? value : null;
    case 'boolean':
      return value;
    case 'bigint':
      throw new TypeError('a BigInt cannot be serialized');
    case 'object':
      break;
    default:
      return undefined; // undefined, a function, a symbol
  }
  if (value === null) return null;
  if (depth > MAX_DETAILS_DEPTH) throw new RangeError('details nested too deeply (or a cycle)');
  const json = (value as { toJSON?: unknown }).toJSON;
  if (typeof json === 'function') return cleanDetails(json.call(value), depth + 1);
  if (Array.isArray(value)) return value.map((item) => cleanDetails(item, depth + 1) ?? null);
  const clean: Record<string, unknown> = {};
  for (const key of Object.keys(value)) {
    const item = cleanDetails((value as Record<string, unknown>)[key], depth + 1);
    if (item !== undefined) clean[cleanString(key)] = SECRET_KEYS.test(key) ? '[redacted]' : item;
  }
  return clean;
}

// eslint-disable-next-line no-control-regex -- NUL is exactly what must go
const NUL = /\u0000/g;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/** Anything to clean at all (most strings have neither a NUL nor a surrogate). */
// eslint-disable-next-line no-control-regex -- NUL is exactly what must go
const SUSPECT = /[\u0000\uD800-\uDFFF]/;

export function cleanString(value: string): string {
  if (!SUSPECT.test(value)) return value;
  return value.replace(NUL, '').replace(LONE_SURROGATE, '\uFFFD');
}

export function text(value: string | undefined | null): string | null {
  if (value === undefined || value === null) return null;
  return cleanString(String(value)).slice(0, MAX_TEXT);
}
