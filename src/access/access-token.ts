/** The claims of a Tessera access token (RFC 9068 plus Tessera's own). */
export interface AccessTokenClaims {
  iss: string;
  sub: string;
  aud: string | string[];
  exp: number;
  iat: number;
  nbf: number;
  jti: string;
  client_id?: string;
  scope?: string;
  roles?: string[];
  token_type?: 'access' | 'parent' | 'child' | 'refresh';
  parent_jti?: string;
  [claim: string]: unknown;
}

/** The claims Tessera sets itself on every token; extra claims can never override them. */
export const REGISTERED_CLAIMS = [
  'iss',
  'sub',
  'aud',
  'exp',
  'iat',
  'nbf',
  'jti',
  'client_id',
  'scope',
  'roles',
  'token_type',
] as const;

/** RFC 9068 §2.1: access tokens are typed `at+jwt` (also accepted with the `application/` prefix). */
export const ACCESS_TOKEN_TYPE = 'at+jwt';

export function isAccessTokenType(typ: unknown): boolean {
  return typeof typ === 'string' && /^(application\/)?at\+jwt$/i.test(typ);
}
