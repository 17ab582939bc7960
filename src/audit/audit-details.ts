/**
 * What an audit event may hold: PostgreSQL stores these values and gives them back unchanged
 * (the chain's hash covers them), and no secret reaches them.
 */

/**
 * Whether a key's value is a secret, never stored at any depth (a before/after snapshot nests).
 * The key is split into words (`snake_case`, `camelCase`, `kebab-case`): it is secret when any
 * word is one of {@link SECRET_WORDS} (`client_secret`, `secretDigest`, `password_hash`,
 * `Authorization`, `privateKeyPem`), or when its last word is one of {@link SECRET_LAST_WORDS}
 * (`token`, `access_token`, `refresh_token`, `id_token`, `parentToken`, `key`, `api_key`,
 * `apiKey`, `private_key`). A token or a key named by what it is *about* — `token_type`,
 * `token_limit`, `refresh_tokens_revoked`, `prompt_tokens`, `key_id`, `api_key_name` — is kept.
 */
export function isSecretKey(key: string): boolean {
  let secret = decided.get(key);
  if (secret === undefined) {
    secret = decide(key);
    // The same few keys come back with every event: remember them (bounded, keys may be anything).
    if (decided.size < 1000) decided.set(key, secret);
  }
  return secret;
}

const decided = new Map<string, boolean>();

function decide(key: string): boolean {
  const words = key
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .replace(/([A-Z])([A-Z][a-z])/g, '$1_$2')
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter(Boolean);
  if (words.length === 0) return false;
  if (words.some((word) => SECRET_WORDS.has(word))) return true;
  const last = words[words.length - 1];
  // Run-together names: `accesstoken`, `apikey`, `privatekey`.
  return SECRET_LAST_WORDS.has(last) || /(token|apikey|privatekey|secretkey)$/.test(last);
}

/** Words that make a key secret wherever they are in it. */
const SECRET_WORDS = new Set([
  'secret',
  'secrets',
  'password',
  'passwords',
  'passwd',
  'passphrase',
  'pepper',
  'credential',
  'credentials',
  'authorization',
  'cookie',
  'cookies',
  'bearer',
  'private',
]);

/** Words that make a key secret when it ends with them (`access_token`, not `token_type`). */
const SECRET_LAST_WORDS = new Set(['token', 'jwt', 'key', 'apikey', 'assertion']);

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
    if (item !== undefined) clean[cleanString(key)] = isSecretKey(key) ? '[redacted]' : item;
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

type Fields = Record<string, unknown>;

const isFields = (v: unknown): v is Fields =>
  v !== null && typeof v === 'object' && !Array.isArray(v);

/**
 * An admin change's `before`/`after`: an update (the same object before and after) keeps only
 * the fields that differ (`updatedAt` aside), a create has only `after`, a delete (no answer, or
 * another object) the whole `before` and `after: null`. `sameObject` says whether two snapshots
 * are of one thing (their id).
 */
export function beforeAfter(
  before: unknown,
  after: unknown,
  sameObject: (before: Fields, after: Fields) => boolean = () => true,
): { before?: Fields | null; after?: Fields | null } {
  if (!isFields(before)) return isFields(after) && Object.keys(after).length ? { after } : {};
  if (!isFields(after) || !sameObject(before, after)) return { before, after: null };
  const changedBefore: Fields = {};
  const changedAfter: Fields = {};
  for (const key of new Set([...Object.keys(before), ...Object.keys(after)])) {
    if (key === 'updatedAt' || key === 'updated_at') continue;
    if (JSON.stringify(before[key]) !== JSON.stringify(after[key])) {
      changedBefore[key] = before[key] ?? null;
      changedAfter[key] = after[key] ?? null;
    }
  }
  return { before: changedBefore, after: changedAfter };
}
