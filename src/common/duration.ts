const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400, w: 604800 };

/**
 * Parses a duration such as `3600s`, `30m`, `24h`, `7d`, `4w` (or a bare number of seconds)
 * into whole seconds. Returns `undefined` for anything else so callers can name the bad input.
 */
export function parseDuration(value: string | number): number | undefined {
  if (typeof value === 'number') {
    return Number.isInteger(value) && value > 0 ? value : undefined;
  }
  const match = /^\s*(\d+)\s*([smhdw]?)\s*$/i.exec(value);
  if (!match) return undefined;
  const amount = Number(match[1]);
  const unit = (match[2] || 's').toLowerCase();
  const seconds = amount * UNIT_SECONDS[unit];
  return seconds > 0 && Number.isSafeInteger(seconds) ? seconds : undefined;
}
