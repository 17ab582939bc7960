import type { ObjectLiteral, SelectQueryBuilder } from 'typeorm';
import { ValidationFailedError } from './errors';

/** One column of a keyset order (descending). */
export interface KeysetKey {
  /** The SQL expression ordered on, e.g. `e.id` or `date_trunc('milliseconds', r.created_at)`. */
  expr: string;
  /** Checks a cursor's value for this key before it reaches SQL (a bad cursor is a 400). */
  valid?: (value: string) => boolean;
}

export interface Page<T> {
  items: T[];
  /** Opaque cursor of the next (older) page; null on the last page. */
  nextCursor: string | null;
}

export const isDigits = (value: string) => /^\d{1,19}$/.test(value);
export const isTimestamp = (value: string) => !Number.isNaN(Date.parse(value));

/**
 * Newest-first keyset pagination (no OFFSET: a page costs the same however deep): orders `query`
 * by `keys` descending, continues after `cursor`, and fetches one row more than `limit` to know
 * whether another page follows. `cursorOf` gives a row's values for `keys`, as strings. The
 * cursor is base64url JSON of those values; anything else is a 400 naming `cursor`.
 */
export async function keysetPage<T extends ObjectLiteral>(
  query: SelectQueryBuilder<T>,
  options: {
    keys: KeysetKey[];
    cursorOf: (row: T) => string[];
    cursor?: string;
    limit?: number;
  },
): Promise<Page<T>> {
  const { keys } = options;
  const limit = Math.min(Math.max(options.limit ?? 50, 1), 500);
  keys.forEach((key, i) =>
    i === 0 ? query.orderBy(key.expr, 'DESC') : query.addOrderBy(key.expr, 'DESC'),
  );
  if (options.cursor !== undefined) {
    const values = decodeCursor(options.cursor, keys);
    const params = Object.fromEntries(values.map((value, i) => [`keyset${i}`, value]));
    query.andWhere(
      `(${keys.map((k) => k.expr).join(', ')}) < (${values.map((_, i) => `:keyset${i}`).join(', ')})`,
      params,
    );
  }
  const rows = await query.limit(limit + 1).getMany();
  const items = rows.slice(0, limit);
  const last = items[items.length - 1];
  return {
    items,
    nextCursor:
      rows.length > limit && last
        ? Buffer.from(JSON.stringify(options.cursorOf(last))).toString('base64url')
        : null,
  };
}

function decodeCursor(cursor: string, keys: KeysetKey[]): string[] {
  try {
    const parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown;
    if (
      Array.isArray(parsed) &&
      parsed.length === keys.length &&
      parsed.every(
        (value, i) => typeof value === 'string' && (keys[i].valid?.(value) ?? value.length < 1000),
      )
    )
      return parsed as string[];
  } catch {
    // fall through
  }
  throw new ValidationFailedError('cursor: not a cursor returned by this endpoint');
}
