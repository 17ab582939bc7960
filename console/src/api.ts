/**
 * The admin API from the console: every call carries the in-memory access token, errors become
 * {@link ApiError} with the server's problem+json `detail`. The access token lives in this
 * module's closure only: never in localStorage, sessionStorage or a cookie a script can read.
 */

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly detail: string,
    readonly code?: string,
    readonly body?: unknown,
  ) {
    super(detail);
    this.name = 'ApiError';
  }

  /** The endpoint is missing on this server (an older or newer Tessera). */
  get unavailable(): boolean {
    return (
      this.status === 404 &&
      (this.code === 'not_found' || this.code === undefined) &&
      /^No route for /.test(this.detail)
    );
  }
}

export interface Session {
  accessToken: string;
  expiresAt: number;
}

let session: Session | undefined;
let refreshing: Promise<boolean> | undefined;
let onSignedOut: (() => void) | undefined;

const SESSION_URL = '/console/api/session';
const CONSOLE_HEADER = { 'X-Tessera-Console': '1' };

export function setSignedOutHandler(handler: () => void): void {
  onSignedOut = handler;
}

export function hasSession(): boolean {
  return session !== undefined;
}

/** The error a failed response stands for, from problem+json, RFC 6749 JSON or plain text. */
export async function errorFrom(response: Response): Promise<ApiError> {
  const text = await response.text();
  let body: unknown;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    body = undefined;
  }
  const record = (body ?? {}) as Record<string, unknown>;
  const detail =
    typeof record.detail === 'string'
      ? record.detail
      : typeof record.error_description === 'string'
        ? record.error_description
        : text.trim() || `${response.status} ${response.statusText}`;
  const code =
    typeof record.code === 'string'
      ? record.code
      : typeof record.error === 'string'
        ? record.error
        : undefined;
  return new ApiError(response.status, detail, code, body);
}

function accept(payload: { access_token: string; expires_in: number }): void {
  session = {
    accessToken: payload.access_token,
    expiresAt: Date.now() + payload.expires_in * 1000,
  };
}

/** Signs in: the server keeps the refresh token in an HttpOnly cookie, we keep the access token. */
export async function signIn(email: string, password: string): Promise<void> {
  const response = await fetch(SESSION_URL, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', ...CONSOLE_HEADER },
    body: JSON.stringify({ email, password }),
    credentials: 'same-origin',
  });
  if (!response.ok) throw await errorFrom(response);
  accept(await response.json());
}

/** Trades the session cookie for a new access token; false when there is no session. */
export function refresh(): Promise<boolean> {
  refreshing ??= (async () => {
    try {
      const response = await fetch(`${SESSION_URL}/refresh`, {
        method: 'POST',
        headers: CONSOLE_HEADER,
        credentials: 'same-origin',
      });
      if (!response.ok) {
        session = undefined;
        return false;
      }
      accept(await response.json());
      return true;
    } finally {
      refreshing = undefined;
    }
  })();
  return refreshing;
}

export async function signOut(): Promise<void> {
  session = undefined;
  await fetch(SESSION_URL, {
    method: 'DELETE',
    headers: CONSOLE_HEADER,
    credentials: 'same-origin',
  }).catch(() => undefined);
}

export type Query = Record<string, string | number | undefined | null>;

export function withQuery(path: string, query?: Query): string {
  if (!query) return path;
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(query)) {
    if (value !== undefined && value !== null && value !== '') params.set(name, String(value));
  }
  const text = params.toString();
  return text ? `${path}?${text}` : path;
}

/** A raw authorized request (for downloads); refreshes once when the token has expired. */
export async function authorizedFetch(path: string, init: RequestInit = {}): Promise<Response> {
  if (session && session.expiresAt - Date.now() < 30_000) await refresh();
  const send = () =>
    fetch(path, {
      ...init,
      credentials: 'omit',
      headers: {
        ...(init.headers as Record<string, string> | undefined),
        ...(session ? { Authorization: `Bearer ${session.accessToken}` } : {}),
      },
    });
  let response = await send();
  if (response.status === 401 && (await refresh())) response = await send();
  if (response.status === 401 && !session) onSignedOut?.();
  return response;
}

/** JSON in, JSON out; throws ApiError with the server's detail. */
export async function api<T>(
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE',
  path: string,
  options: { query?: Query; body?: unknown } = {},
): Promise<T> {
  const response = await authorizedFetch(withQuery(path, options.query), {
    method,
    headers:
      options.body === undefined
        ? { Accept: 'application/json' }
        : { Accept: 'application/json', 'Content-Type': 'application/json' },
    body: options.body === undefined ? undefined : JSON.stringify(options.body),
  });
  if (!response.ok) throw await errorFrom(response);
  if (response.status === 204) return undefined as T;
  const text = await response.text();
  return (text ? JSON.parse(text) : undefined) as T;
}
