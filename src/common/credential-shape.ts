import { API_KEY_PREFIX } from '../api-keys/api-key-secret';

/** A compact JWS (every JWT this service or a trusted issuer signs): `eyJ…` `.` `…` `.` `…`. */
const COMPACT_JWS = /^eyJ[\w-]*\.[\w-]*\.[\w-]+$/;

/**
 * Whether a value given where an identifier is expected (a jti, an audit event's target) is in
 * fact a credential pasted into the wrong place: a signed token, a refresh token (`rt_…`) or an
 * API key (`tsk_live_…`). Such a value must not be stored, echoed, logged or recorded as an
 * identifier: it would put a working credential into the revocations table and the audit trail.
 * The identifiers Tessera issues (UUID jtis, `ak_…` key ids, client ids, user oids) never match.
 */
export function looksLikeCredential(value: string): boolean {
  return value.startsWith('rt_') || value.startsWith(API_KEY_PREFIX) || COMPACT_JWS.test(value);
}

/**
 * `path` with every segment that begins as a credential does (a signed token's `eyJ`, `rt_`,
 * `tsk_live_`) replaced by `[redacted]`: `DELETE /tokens/<a refresh token>` is refused, but its
 * path is logged. A path cut short for the log (a long token's first part) is caught too, which
 * {@link looksLikeCredential} would not recognise. Three substring searches for a path without
 * any of them (every ordinary request).
 */
export function redactCredentialSegments(path: string): string {
  if (!path.includes('eyJ') && !path.includes('rt_') && !path.includes(API_KEY_PREFIX)) return path;
  return path
    .split('/')
    .map((segment) => (CREDENTIAL_START.test(segment) ? '[redacted]' : segment))
    .join('/');
}

/** The beginning of a credential in a path segment. */
const CREDENTIAL_START = new RegExp(`^(eyJ[\\w-]{8}|rt_[\\w-]{8}|${API_KEY_PREFIX})`);
