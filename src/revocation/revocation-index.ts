/** What the index needs from a token: its signed claims. */
export interface RevocableToken {
  /** Tessera's own tokens carry a UUIDv7 (its first 48 bits: the issue time in milliseconds). */
  jti: string;
  /** Seconds since the epoch. */
  iat: number;
  exp: number;
  sub: string;
  client_id?: unknown;
  parent_jti?: unknown;
}

/**
 * One revocation as stored, published and indexed. `expiresAt` is in epoch seconds;
 * `revokedBeforeMs`, the cut-off of a subject or client, in epoch milliseconds: every token issued
 * at or before it is revoked. A cut-off on a whole second (`% 1000 === 0`) is read as the end of
 * that second ({@link cutoffMs}): rows and notifications written before cut-offs had milliseconds
 * carried whole seconds meaning "issued in or before that second", and a new cut-off is never a
 * whole second.
 */
export type RevocationEntry =
  | { kind: 'jti'; value: string; expiresAt: number }
  | { kind: 'subject' | 'client'; value: string; revokedBeforeMs: number; expiresAt: number };

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** RFC 9562 UUIDv7: version nibble 7, variant bits 10. */
const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/i;
const MIN_CAPACITY = 1024;
/** Grow when more than this share of the slots is used: linear probing stays short below it. */
const MAX_LOAD = 0.6;

/**
 * An open-addressing hash set of UUIDs stored as four 32-bit words in one typed array, with the
 * covered token's `exp` per slot (0 = empty slot). About 20 bytes per slot, ~40 MB for a million
 * jtis, against ~100 bytes per entry for a `Map<string, number>`; lookups allocate nothing.
 * Entries are never deleted one by one: {@link compact} rebuilds without the expired ones.
 */
export class UuidTable {
  private words: Uint32Array;
  private exps: Uint32Array;
  private mask: number;
  private count = 0;

  constructor(capacity = MIN_CAPACITY) {
    let slots = MIN_CAPACITY;
    while (slots * MAX_LOAD < capacity) slots *= 2;
    this.words = new Uint32Array(slots * 4);
    this.exps = new Uint32Array(slots);
    this.mask = slots - 1;
  }

  get size(): number {
    return this.count;
  }

  /** Bytes held by the table's arrays. */
  get bytes(): number {
    return this.words.byteLength + this.exps.byteLength;
  }

  add(w0: number, w1: number, w2: number, w3: number, exp: number): void {
    if ((this.count + 1) / (this.mask + 1) > MAX_LOAD) this.resize((this.mask + 1) * 2);
    const slot = this.find(w0, w1, w2, w3);
    if (this.exps[slot] === 0) this.count++;
    else if (this.exps[slot] >= exp) return;
    const at = slot * 4;
    this.words[at] = w0;
    this.words[at + 1] = w1;
    this.words[at + 2] = w2;
    this.words[at + 3] = w3;
    this.exps[slot] = Math.max(1, exp);
  }

  has(w0: number, w1: number, w2: number, w3: number): boolean {
    return this.exps[this.find(w0, w1, w2, w3)] !== 0;
  }

  /** Drops every entry whose covered token expired before `now`. */
  compact(now: number): number {
    const before = this.count;
    this.rebuild(this.mask + 1, now);
    // Shrink when mostly empty, so memory follows the live revocations down as well as up.
    while (this.mask + 1 > MIN_CAPACITY && this.count < (this.mask + 1) * MAX_LOAD * 0.25) {
      this.rebuild((this.mask + 1) / 2, now);
    }
    return before - this.count;
  }

  /** The slot holding the key, or the empty slot where it would go. */
  private find(w0: number, w1: number, w2: number, w3: number): number {
    // Random UUIDs are already uniform; mixing two words also spreads sequential ones.
    let slot = (w0 ^ Math.imul(w3, 0x9e3779b1)) & this.mask;
    const words = this.words;
    const exps = this.exps;
    for (;;) {
      if (exps[slot] === 0) return slot;
      const at = slot * 4;
      if (words[at] === w0 && words[at + 1] === w1 && words[at + 2] === w2 && words[at + 3] === w3)
        return slot;
      slot = (slot + 1) & this.mask;
    }
  }

  private resize(slots: number): void {
    this.rebuild(slots, 0);
  }

  private rebuild(slots: number, now: number): void {
    const words = this.words;
    const exps = this.exps;
    this.words = new Uint32Array(slots * 4);
    this.exps = new Uint32Array(slots);
    this.mask = slots - 1;
    this.count = 0;
    for (let slot = 0; slot < exps.length; slot++) {
      const exp = exps[slot];
      if (exp === 0 || exp < now) continue;
      const at = slot * 4;
      const target = this.find(words[at], words[at + 1], words[at + 2], words[at + 3]);
      this.words.set(words.subarray(at, at + 4), target * 4);
      this.exps[target] = exp;
      this.count++;
    }
  }
}

/**
 * The Unix time in milliseconds a UUIDv7 carries in its first 48 bits, or -1 when `value` is not
 * a version 7 UUID (a random v4, a jti from elsewhere). No allocation: it runs on the verify path
 * (only for a token issued in the very second of a subject's or client's cut-off).
 */
export function uuidV7Millis(value: string): number {
  if (value.length !== 36 || !UUID_V7.test(value)) return -1;
  let ms = 0;
  for (let i = 0; i < 13; i++) {
    if (i === 8) continue; // the dash
    const c = value.charCodeAt(i) | 0x20; // lower case
    ms = ms * 16 + (c <= 0x39 ? c - 0x30 : c - 0x57);
  }
  return ms;
}

/**
 * A stored or published cut-off as the index compares it: a whole second is a cut-off from before
 * millisecond precision ("revoked before T" covered all of second T), so it covers that second's
 * last millisecond too. New cut-offs are never whole seconds (RevocationsService moves one off
 * `.000` by a millisecond), so this never widens one.
 */
export function cutoffMs(revokedBeforeMs: number): number {
  return revokedBeforeMs % 1000 === 0 ? revokedBeforeMs + 999 : revokedBeforeMs;
}

/**
 * Whether a token may have been issued at or before `cutoff` (epoch ms, as {@link cutoffMs} gives
 * it). `iat` has one-second resolution, so within the cut-off's own second the token's jti decides
 * when it is a UUIDv7 whose time falls in that same second (Tessera's own tokens, since
 * millisecond cut-offs); any other token of that second is revoked, since it may have been issued
 * before the cut-off and a revocation must never miss one.
 */
export function issuedBy(token: RevocableToken, cutoff: number): boolean {
  const iatMs = token.iat * 1000;
  if (iatMs > cutoff) return false; // issued in a later second
  if (iatMs + 999 <= cutoff) return true; // the whole of iat's second is at or before the cut-off
  const issuedMs = uuidV7Millis(token.jti);
  if (issuedMs < 0 || Math.floor(issuedMs / 1000) !== token.iat) return true;
  return issuedMs <= cutoff;
}

/** Parses a UUID into four 32-bit words, or undefined when the string is not a UUID. */
export function uuidWords(value: string): [number, number, number, number] | undefined {
  if (value.length !== 36 || !UUID.test(value)) return undefined;
  return [
    parseInt(value.substring(0, 8), 16) >>> 0,
    parseInt(value.substring(9, 13) + value.substring(14, 18), 16) >>> 0,
    parseInt(value.substring(19, 23) + value.substring(24, 28), 16) >>> 0,
    parseInt(value.substring(28, 36), 16) >>> 0,
  ];
}

/**
 * Every replica's in-memory answer to "is this token revoked?", with no I/O:
 * - by `jti` (UUIDs in a compact {@link UuidTable}; any other jti in a small map);
 * - by parent: a child whose `parent_jti` is revoked is revoked, so revoking a parent covers every
 *   child without listing them;
 * - by subject and by client: "revoked before T" (T in milliseconds), which also covers tokens
 *   nobody can list. `iat` has one-second resolution: in T's own second a token is judged by the
 *   time in its UUIDv7 jti, and one without (older tokens, other issuers') is revoked, since a
 *   revocation must never miss a token issued before it ({@link issuedBy}).
 * Entries carry the expiry of what they cover; {@link compact} drops them once it has passed.
 */
export class RevocationIndex {
  private readonly uuids: UuidTable;
  private readonly otherJtis = new Map<string, number>();
  /** Cut-offs by subject and by client: `before` in epoch ms ({@link cutoffMs}), `exp` in seconds. */
  private readonly subjects = new Map<string, { before: number; exp: number }>();
  private readonly clients = new Map<string, { before: number; exp: number }>();

  constructor(expectedJtis = 0) {
    this.uuids = new UuidTable(expectedJtis);
  }

  get size(): { jtis: number; subjects: number; clients: number } {
    return {
      jtis: this.uuids.size + this.otherJtis.size,
      subjects: this.subjects.size,
      clients: this.clients.size,
    };
  }

  /** Approximate bytes held (the jti table's arrays dominate). */
  get bytes(): number {
    const perMapEntry = 120;
    return (
      this.uuids.bytes +
      (this.otherJtis.size + this.subjects.size + this.clients.size) * perMapEntry
    );
  }

  apply(entry: RevocationEntry): void {
    switch (entry.kind) {
      case 'jti':
        this.addJti(entry.value, entry.expiresAt);
        return;
      case 'subject':
        merge(this.subjects, entry.value, cutoffMs(entry.revokedBeforeMs), entry.expiresAt);
        return;
      case 'client':
        merge(this.clients, entry.value, cutoffMs(entry.revokedBeforeMs), entry.expiresAt);
        return;
    }
  }

  hasJti(jti: string): boolean {
    const words = uuidWords(jti);
    if (words) return this.uuids.has(words[0], words[1], words[2], words[3]);
    return this.otherJtis.has(jti);
  }

  /** Hot path: a few hash lookups (the jti's time is read only in a cut-off's own second). */
  isRevoked(token: RevocableToken): boolean {
    if (this.hasJti(token.jti)) return true;
    if (typeof token.parent_jti === 'string' && this.hasJti(token.parent_jti)) return true;
    if (this.subjects.size) {
      const subject = this.subjects.get(token.sub);
      if (subject && issuedBy(token, subject.before)) return true;
    }
    if (this.clients.size && typeof token.client_id === 'string') {
      const client = this.clients.get(token.client_id);
      if (client && issuedBy(token, client.before)) return true;
    }
    return false;
  }

  /** Forgets entries whose covered tokens have all expired by `now` (epoch seconds). */
  compact(now: number): number {
    let dropped = this.uuids.compact(now);
    for (const [jti, exp] of this.otherJtis) if (exp < now && this.otherJtis.delete(jti)) dropped++;
    for (const map of [this.subjects, this.clients]) {
      for (const [key, value] of map) if (value.exp < now && map.delete(key)) dropped++;
    }
    return dropped;
  }

  private addJti(jti: string, exp: number): void {
    const words = uuidWords(jti);
    if (words) this.uuids.add(words[0], words[1], words[2], words[3], exp);
    else this.otherJtis.set(jti, Math.max(exp, this.otherJtis.get(jti) ?? 0));
  }
}

/** Keeps the later cut-off (epoch ms, as {@link cutoffMs} gives it) and the later expiry. */
function merge(
  map: Map<string, { before: number; exp: number }>,
  key: string,
  before: number,
  exp: number,
): void {
  const current = map.get(key);
  map.set(key, {
    before: Math.max(before, current?.before ?? 0),
    exp: Math.max(exp, current?.exp ?? 0),
  });
}
