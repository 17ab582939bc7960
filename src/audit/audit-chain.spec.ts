import { createHash } from 'node:crypto';
import {
  canonicalJson,
  chainedText,
  ChainedFields,
  ChainWalker,
  eventFields,
  eventHash,
  GENESIS_HASH,
} from './audit-chain';

function chain(n: number, start = { id: 1n, prev: GENESIS_HASH }) {
  const events: Array<ChainedFields & { hash: string }> = [];
  let prev = start.prev;
  for (let i = 0; i < n; i++) {
    const fields: ChainedFields = {
      id: (start.id + BigInt(i)).toString(),
      at: new Date(1_700_000_000_000 + i),
      action: 'test.event',
      outcome: 'success',
      actor: `a${i}`,
      actorMethod: null,
      target: null,
      ip: null,
      userAgent: null,
      requestId: null,
      details: { i, nested: { b: 2, a: 1 } },
      prevHash: prev,
    };
    const hash = eventHash(fields);
    events.push({ ...fields, hash });
    prev = hash;
  }
  return events;
}

function walk(events: Array<ChainedFields & { hash: string }>, head = events[events.length - 1]) {
  const sut = new ChainWalker({ nextId: BigInt(events[0]?.id ?? 1), prevHash: GENESIS_HASH });
  for (const e of events) if (!sut.check(e)) break;
  sut.finish({ lastId: head.id, hash: head.hash });
  return sut;
}

describe('audit hash chain', () => {
  it('builds the hashed text from the fields serialized once, byte for byte the format', () => {
    const cases: ChainedFields[] = [
      chain(1)[0],
      {
        id: '18446744073709551615',
        at: new Date(0),
        action: 'x"\\\u0001\u2028é😀',
        outcome: 'failure',
        actor: null,
        actorMethod: 'api_key',
        target: '</script>',
        ip: '::1',
        userAgent: 'agent\twith\ttabs',
        requestId: 'r',
        details: { quote: '"', list: [1, 'two', null, { b: true, a: 1.5 }], empty: {} },
        prevHash: 'f'.repeat(64),
      },
    ];
    for (const event of cases) {
      // The format (version 1) as it was first written: one JSON.stringify of every field.
      const format = JSON.stringify([
        1,
        event.id,
        event.at.toISOString(),
        event.action,
        event.outcome,
        event.actor,
        event.actorMethod,
        event.target,
        event.ip,
        event.userAgent,
        event.requestId,
        canonicalJson(event.details),
        event.prevHash,
      ]);
      expect(chainedText(eventFields(event), event.id, event.prevHash)).toBe(format);
      expect(eventHash(event)).toBe(createHash('sha256').update(format).digest('hex'));
      // An ISO string for `at` (what the writer holds) serializes the same as the Date.
      expect(eventFields({ ...event, at: event.at.toISOString() })).toBe(eventFields(event));
    }
  });

  it('hashes details the same whatever their key order (jsonb reorders keys)', () => {
    expect(canonicalJson({ b: 1, a: { d: [1, { z: 0, y: 1 }], c: null } })).toBe(
      '{"a":{"c":null,"d":[1,{"y":1,"z":0}]},"b":1}',
    );
    // Undefined members are left out wherever they are (first, last, all), as JSON.stringify does.
    expect(canonicalJson({ u: undefined, b: 'x"y', a: undefined })).toBe('{"b":"x\\"y"}');
    expect(canonicalJson({ a: undefined })).toBe('{}');
    expect(canonicalJson({ 'k"ey': [undefined, 'é'] })).toBe('{"k\\"ey":[null,"é"]}');
    const [event] = chain(1);
    expect(eventHash({ ...event, details: { nested: { a: 1, b: 2 }, i: 0 } })).toBe(event.hash);
  });

  it('accepts an untouched chain', () => {
    const sut = walk(chain(5));
    expect(sut.broken).toBeUndefined();
    expect(sut.checked).toBe(5);
  });

  it('names an edited event', () => {
    const events = chain(5);
    events[2] = { ...events[2], actor: 'mallory' };
    expect(walk(events).broken).toEqual({ id: '3', reason: expect.stringContaining('edited') });
  });

  it('names an event whose stored time was moved by less than the millisecond its hash covers', () => {
    const events = chain(5);
    const sut = new ChainWalker({ nextId: 1n, prevHash: GENESIS_HASH });
    expect(sut.check(events[0], false)).toBe(true);
    // Its hash still matches (the Date read back keeps milliseconds): only the digits tell.
    expect(sut.check(events[1], true)).toBe(false);
    expect(sut.broken).toEqual({ id: '2', reason: expect.stringContaining('(edited)') });
    expect(sut.broken?.reason).toContain('below the millisecond');
  });

  it('names the event after a deleted one', () => {
    const events = chain(5);
    events.splice(1, 1);
    expect(walk(events).broken).toEqual({ id: '3', reason: 'event 2 is missing (deleted?)' });
  });

  it('catches events swapped with their hashes', () => {
    const events = chain(5);
    const [a, b] = [events[1], events[2]];
    events[1] = { ...b, id: a.id };
    events[2] = { ...a, id: b.id };
    expect(walk(events).broken?.id).toBe('2');
  });

  it('catches the newest events cut off against the head', () => {
    const events = chain(5);
    const head = events[4];
    expect(walk(events.slice(0, 3), head).broken?.reason).toContain('newest events deleted');
  });
});
