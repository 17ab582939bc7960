/**
 * The console's session cookie: the refresh token of a person's login, kept where no script can
 * read it. `HttpOnly` (no `document.cookie`), `SameSite=Strict` (never sent on a cross-site
 * request), `Path` limited to the console's session endpoints (never sent to the API or the
 * pages), and `Secure` whenever the request came over TLS (directly or, with `trustProxy`, as
 * `X-Forwarded-Proto: https`).
 */
export const SESSION_COOKIE = 'tessera_console_session';
export const SESSION_PATH = '/console/api/session';
/**
 * CSRF: every session call must carry this header. A cross-site form cannot set a custom
 * header, and a cross-site `fetch` with one needs a CORS preflight that Tessera never grants;
 * SameSite=Strict already keeps the cookie off cross-site requests: two independent locks.
 */
export const SESSION_HEADER = 'x-tessera-console';

export interface CookieOptions {
  maxAgeSeconds: number;
  secure: boolean;
}

export function serializeSessionCookie(value: string, options: CookieOptions): string {
  const parts = [
    `${SESSION_COOKIE}=${value}`,
    `Path=${SESSION_PATH}`,
    `Max-Age=${Math.max(0, Math.floor(options.maxAgeSeconds))}`,
    'HttpOnly',
    'SameSite=Strict',
  ];
  if (options.secure) parts.push('Secure');
  return parts.join('; ');
}

export function clearedSessionCookie(secure: boolean): string {
  return serializeSessionCookie('', { maxAgeSeconds: 0, secure });
}

/** The session cookie's value from a `Cookie` header, or undefined. */
export function readSessionCookie(header: string | string[] | undefined): string | undefined {
  const text = Array.isArray(header) ? header.join('; ') : header;
  if (!text) return undefined;
  for (const pair of text.split(';')) {
    const eq = pair.indexOf('=');
    if (eq < 0) continue;
    if (pair.slice(0, eq).trim() !== SESSION_COOKIE) continue;
    const value = pair.slice(eq + 1).trim();
    return value === '' ? undefined : value;
  }
  return undefined;
}
