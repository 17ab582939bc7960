/**
 * An ISO 8601 date-time with an offset (`2026-11-01T09:30Z`, `…T09:30:00.250+02:00`) or a date
 * (`2026-11-01`, midnight UTC), as a Date; null for anything else — a number, a date-time
 * without an offset (whose meaning would depend on the server's zone), or one that does not
 * exist (`2026-02-30`, `T24:00`), which `new Date` would roll over into another day.
 */
export function parseIsoDateTime(text: string): Date | null {
  const m = ISO.exec(text);
  if (!m) return null;
  const [
    ,
    y,
    mo,
    d,
    time,
    h = '0',
    mi = '0',
    s = '0',
    fraction = '',
    zone,
    sign,
    oh = '0',
    om = '0',
  ] = m;
  const year = Number(y);
  const month = Number(mo);
  const day = Number(d);
  if (month < 1 || month > 12 || day < 1 || day > daysIn(year, month)) return null;
  if (time !== undefined && zone === undefined) return null;
  if (Number(h) > 23 || Number(mi) > 59 || Number(s) > 59) return null;
  if (Number(oh) > 23 || Number(om) > 59) return null;
  const ms = Number((fraction + '000').slice(0, 3));
  const offset = sign ? (sign === '-' ? -1 : 1) * (Number(oh) * 60 + Number(om)) : 0;
  const local = new Date(0); // setUTCFullYear: Date.UTC would read 0050 as 1950
  local.setUTCFullYear(year, month - 1, day);
  local.setUTCHours(Number(h), Number(mi), Number(s), ms);
  const at = local.getTime() - offset * 60_000;
  const date = new Date(at);
  return Number.isNaN(date.getTime()) ? null : date;
}

const ISO =
  /^(\d{4})-(\d{2})-(\d{2})(T(\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?(Z|([+-])(\d{2}):?(\d{2}))?)?$/i;

function daysIn(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

/** What is wrong with a `name` that {@link parseIsoDateTime} refused, as a 400's detail. */
export function isoDateTimeProblem(name: string, value: unknown): string {
  const example = 'such as 2026-11-01T00:00:00Z';
  const m = typeof value === 'string' ? ISO.exec(value) : null;
  if (!m) return `${name} must be an ISO 8601 date-time ${example}`;
  if (m[4] !== undefined && m[9] === undefined)
    return `${name} must have an offset (Z or +01:00), ${example}`;
  return `${name} is not a real date and time: ${String(value).slice(0, 40)}`;
}
