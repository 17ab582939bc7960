import { isoDateTimeProblem, parseIsoDateTime } from './iso-date';

describe('parseIsoDateTime', () => {
  it.each([
    ['2026-11-01T00:00:00Z', '2026-11-01T00:00:00.000Z'],
    ['2026-11-01T09:30Z', '2026-11-01T09:30:00.000Z'],
    ['2026-11-01T09:30:00.25+02:00', '2026-11-01T07:30:00.250Z'],
    ['2026-11-01T09:30:00-0130', '2026-11-01T11:00:00.000Z'],
    ['2026-11-01', '2026-11-01T00:00:00.000Z'],
    ['2028-02-29T12:00:00Z', '2028-02-29T12:00:00.000Z'],
    ['0050-01-01T00:00:00Z', '0050-01-01T00:00:00.000Z'],
  ])('reads %s', (text, iso) => {
    expect(parseIsoDateTime(text)?.toISOString()).toBe(iso);
  });

  it.each([
    '2026-02-30T00:00:00Z', // 2 March to new Date
    '2027-02-29T00:00:00Z',
    '2026-13-01T00:00:00Z',
    '2026-04-31',
    '2026-11-01T24:00:00Z',
    '2026-11-01T23:60:00Z',
    '2026-11-01T23:59:60Z',
    '2026-11-01T00:00:00', // no offset: the server's zone would decide
    '0',
    '-1',
    '1764000000',
    'yesterday',
    '',
    ' 2026-11-01T00:00:00Z',
  ])('refuses %j', (text) => {
    expect(parseIsoDateTime(text)).toBeNull();
  });

  it('says what is wrong', () => {
    expect(isoDateTimeProblem('since', '0')).toBe(
      'since must be an ISO 8601 date-time such as 2026-11-01T00:00:00Z',
    );
    expect(isoDateTimeProblem('since', '2026-11-01T00:00')).toBe(
      'since must have an offset (Z or +01:00), such as 2026-11-01T00:00:00Z',
    );
    expect(isoDateTimeProblem('until', '2026-02-30T00:00:00Z')).toBe(
      'until is not a real date and time: 2026-02-30T00:00:00Z',
    );
  });
});
