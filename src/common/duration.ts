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

/**
 * A time until reset in OpenAI's `x-ratelimit-reset-*` format: `20ms` below a second, else
 * whole seconds rounded up, with minutes and hours when there are any (`1s`, `6m0s`, `2h3m4s`).
 */
export function formatResetDuration(ms: number): string {
  if (!(ms > 0)) return '0s';
  if (ms < 1000) return `${Math.ceil(ms)}ms`;
  let seconds = Math.ceil(ms / 1000);
  const hours = Math.floor(seconds / 3600);
  seconds -= hours * 3600;
  const minutes = Math.floor(seconds / 60);
  seconds -= minutes * 60;
  return `${hours ? `${hours}h` : ''}${hours || minutes ? `${minutes}m` : ''}${seconds}s`;
}
