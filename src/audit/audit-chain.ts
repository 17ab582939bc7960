import { hash } from 'node:crypto';

/**
 * The audit trail's hash chain. Events are numbered 1, 2, 3… (`id`, with no gaps) in the order
 * they were appended, and each carries the hash of the one before it (`prev_hash`) and its own
 * (`hash` = SHA-256 over its fields and `prev_hash`). Appends from every replica are serialized
 * by a row lock on the chain head (`audit_chain`), taken inside each batch insert, so there is one
 * chain however many replicas write. Editing an event changes its hash; deleting or reordering
 * events breaks the numbering or the link to the previous hash; removing the newest events no
 * longer matches the head. A retention purge removes a prefix and records the hash of the last
 * removed event as an anchor (`audit_anchors`), which the first remaining event links to.
 *
 * The format below is part of the stored data: changing it breaks every existing chain.
 */
export const GENESIS_HASH = '0'.repeat(64);

/** The fields an event's hash covers (everything stored about it, in a fixed order). */
export interface ChainedFields {
  id: string;
  at: Date;
  action: string;
  outcome: string;
  actor: string | null;
  actorMethod: string | null;
  target: string | null;
  ip: string | null;
  userAgent: string | null;
  requestId: string | null;
  details: unknown;
  prevHash: string;
}

/** An event's stored fields, apart from its place in the chain (`id`, `prevHash`). */
export type EventFields = Omit<ChainedFields, 'at' | 'id' | 'prevHash'> & { at: Date | string };

/**
 * The text an event's hash is taken over: a JSON array of a format version and every field, in
 * a fixed order, the details as canonical JSON text — exactly
 * `JSON.stringify([1, id, at, action, outcome, actor, actorMethod, target, ip, userAgent,
 * requestId, canonicalJson(details), prevHash])`, built from {@link eventFields} (the part that
 * does not depend on the event's place in the chain, serialized once when it is recorded). The
 * writer also sends this very text to PostgreSQL as the row (with the hash appended).
 */
export function chainedText(fields: string, id: string, prevHash: string): string {
  // id: digits; prevHash: hex — neither needs escaping.
  return `[1,"${id}",${fields},"${prevHash}"]`;
}

/** The middle of {@link chainedText}: `at` … `details`, comma-separated JSON values. */
export function eventFields(event: EventFields): string {
  const array = JSON.stringify([
    typeof event.at === 'string' ? event.at : event.at.toISOString(),
    event.action,
    event.outcome,
    event.actor,
    event.actorMethod,
    event.target,
    event.ip,
    event.userAgent,
    event.requestId,
    canonicalJson(event.details),
  ]);
  return array.slice(1, -1);
}

/** SHA-256, hex. */
export function hashOf(chained: string): string {
  return hash('sha256', chained, 'hex');
}

export function eventHash(event: ChainedFields): string {
  return hashOf(chainedText(eventFields(event), event.id, event.prevHash));
}

/**
 * JSON with object keys sorted at every level: PostgreSQL's jsonb reorders keys, so the hash is
 * taken over a form that survives the round trip.
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const record = value as Record<string, unknown>;
  // One string built in a loop (no filtered, mapped and joined arrays): every event's details
  // pass through here when it is recorded.
  let text = '';
  for (const key of Object.keys(record).sort()) {
    const item = record[key];
    if (item === undefined) continue;
    text += `${text === '' ? '' : ','}${JSON.stringify(key)}:${canonicalJson(item)}`;
  }
  return `{${text}}`;
}

/** Where a chain walk starts: after the last retention anchor, or at the genesis. */
export interface ChainStart {
  /** The id the first remaining event must have. */
  nextId: bigint;
  /** The hash it must link to. */
  prevHash: string;
}

export interface BrokenLink {
  id: string;
  reason: string;
}

/**
 * Checks events one at a time, in id order, against what the previous one promised. Kept apart
 * from the database so the rules are unit-tested on their own.
 */
export class ChainWalker {
  private expectedId: bigint;
  private expectedPrev: string;
  private lastId: string | undefined;
  checked = 0;
  broken: BrokenLink | undefined;

  constructor(start: ChainStart) {
    this.expectedId = start.nextId;
    this.expectedPrev = start.prevHash;
  }

  /**
   * Returns false once a broken link is found (then `broken` says where and why). `subMillisecond`:
   * the stored time has digits below the millisecond. The hash covers `at` to the millisecond
   * (as written: every event's time is a JavaScript Date), so a time moved by less than that
   * still matches its hash; a stored time that is not a whole millisecond was edited.
   */
  check(event: ChainedFields & { hash: string }, subMillisecond = false): boolean {
    if (this.broken) return false;
    this.checked += 1;
    const id = BigInt(event.id);
    if (id !== this.expectedId) {
      this.broken = {
        id: event.id,
        reason:
          id > this.expectedId
            ? `event ${this.expectedId}${id - this.expectedId > 1n ? `…${id - 1n}` : ''} is missing (deleted?)`
            : `event ${event.id} is out of place (expected ${this.expectedId})`,
      };
      return false;
    }
    if (event.prevHash !== this.expectedPrev) {
      this.broken = {
        id: event.id,
        reason: 'prev_hash does not match the hash of the event before it (reordered or replaced)',
      };
      return false;
    }
    if (eventHash(event) !== event.hash) {
      this.broken = { id: event.id, reason: 'content does not match its hash (edited)' };
      return false;
    }
    if (subMillisecond) {
      this.broken = {
        id: event.id,
        reason:
          'its time has digits below the millisecond, which no event is written with (edited)',
      };
      return false;
    }
    this.expectedId = id + 1n;
    this.expectedPrev = event.hash;
    this.lastId = event.id;
    return true;
  }

  /** After the last event: the chain head must be the last event seen (nothing cut off the end). */
  finish(head: { lastId: string; hash: string }): void {
    if (this.broken) return;
    if (BigInt(head.lastId) !== this.expectedId - 1n || head.hash !== this.expectedPrev) {
      this.broken = {
        id: this.lastId ?? head.lastId,
        reason: `the chain head is event ${head.lastId}, but the trail ends at event ${this.expectedId - 1n} (newest events deleted?)`,
      };
    }
  }
}
