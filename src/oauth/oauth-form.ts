import type { FastifyReply } from 'fastify';
import { OAuthError } from '../common/errors';
import type { ClientCredentials } from './oauth.service';

/**
 * Reading the OAuth endpoints' bodies (form-urlencoded or JSON, RFC 6749 §3.2), one parser for
 * the token, revocation and introspection endpoints: a member that is not a string is an
 * `invalid_request` naming it.
 */
export type Form = Record<string, unknown>;

export function field(body: Form, name: string): string | undefined {
  const value = body[name];
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value !== 'string')
    throw new OAuthError('invalid_request', `${name} must be a string`);
  return value;
}

/**
 * RFC 6749 §2.3.1: client_secret_basic (the id and secret are form-urlencoded inside Basic) or
 * client_secret_post, never both.
 */
export function clientCredentialsFrom(
  authorization: string | undefined,
  body: Form,
): ClientCredentials {
  const postId = field(body, 'client_id');
  const postSecret = field(body, 'client_secret');
  if (authorization && /^basic /i.test(authorization)) {
    if (postSecret)
      throw new OAuthError('invalid_request', 'Use one client authentication method, not both');
    const decoded = Buffer.from(authorization.slice(6).trim(), 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) throw new OAuthError('invalid_client', 'Malformed Basic credentials');
    try {
      const clientId = decodeURIComponent(decoded.slice(0, colon).replace(/\+/g, ' '));
      const clientSecret = decodeURIComponent(decoded.slice(colon + 1).replace(/\+/g, ' '));
      if (postId && postId !== clientId)
        throw new OAuthError('invalid_request', 'client_id does not match the Basic credentials');
      return { clientId, clientSecret };
    } catch (error) {
      if (error instanceof OAuthError) throw error;
      throw new OAuthError('invalid_client', 'Malformed Basic credentials');
    }
  }
  if (!postId || !postSecret)
    throw new OAuthError('invalid_client', 'Client authentication is required');
  return { clientId: postId, clientSecret: postSecret };
}

export function formOf(raw: unknown): Form {
  return raw !== null && typeof raw === 'object' && !Array.isArray(raw) ? (raw as Form) : {};
}

export function noStore(reply: FastifyReply): void {
  // RFC 6749 §5.1: token responses must not be cached.
  reply.header('Cache-Control', 'no-store').header('Pragma', 'no-cache');
}
