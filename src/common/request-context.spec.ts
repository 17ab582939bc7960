import type { IncomingMessage } from 'node:http';
import { requestIdFor } from './request-context';

const withHeader = (value?: string) =>
  ({ headers: value === undefined ? {} : { 'x-request-id': value } }) as IncomingMessage;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('requestIdFor', () => {
  it('keeps a sane caller id (1 to 128 visible ASCII characters)', () => {
    expect(requestIdFor(withHeader('abc-123_X.y:z'))).toBe('abc-123_X.y:z');
    expect(requestIdFor(withHeader('x'.repeat(128)))).toBe('x'.repeat(128));
  });

  it('replaces a missing, long, spaced, control-character or non-ASCII id with a UUID', () => {
    for (const bad of [undefined, '', 'x'.repeat(129), 'has space', 'nul\u0000', 'tab\t', 'é'])
      expect(requestIdFor(withHeader(bad))).toMatch(UUID);
  });

  it('never repeats a generated id', () => {
    const ids = new Set(Array.from({ length: 1000 }, () => requestIdFor(withHeader())));
    expect(ids.size).toBe(1000);
  });
});
