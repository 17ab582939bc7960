import type { RouteRule } from './route-rule';

/** Who is calling, however they authenticated. Handlers partition data by `subject`. */
export interface Principal {
  /** `sub` of the token (client id for client credentials, user oid for people), or the API key id. */
  subject: string;
  clientId?: string;
  scopes: string[];
  roles: string[];
  /** The way the caller authenticated (the name of the authenticator that accepted it). */
  method: 'jwt' | 'api_key' | 'none';
  tokenType?: 'access' | 'child';
  /** `jti`, `kid` and `exp` of the presented token. */
  tokenId?: string;
  keyId?: string;
  expiresAt?: number;
  claims: Readonly<Record<string, unknown>>;
}

/** The request as the guards see it: Fastify's request with the principal attached. */
export interface AuthenticatedRequest {
  headers: Record<string, string | string[] | undefined>;
  ip?: string;
  user?: Principal;
  /** The route's rule, looked up once by the first guard for the ones after it. */
  routeRule?: RouteRule;
}
