import { Injectable } from '@nestjs/common';
import type { AuthenticatedRequest, Principal } from '../../access/principal';
import { OAuthError } from '../../common/errors';
import { ClientsService } from '../../clients/clients.service';
import { clientCredentialsFrom, formOf } from '../../clients/client-credentials';
import type { PresentedCredentials, RequestAuthenticator } from './request-authenticator';

interface RoutedRequest extends AuthenticatedRequest {
  body?: unknown;
  /** The request id (Fastify's), for the audit event of a refused client. */
  id: string;
}

/**
 * `client_secret_basic` / `client_secret_post` on routes whose rule says so
 * (`@Authenticated({ permission: 'tokens:introspect', clientAuthentication: true })`). RFC 7662
 * §2.1: the protected resource calling the introspection endpoint is a client (openid-client's
 * introspect, Kong, Envoy, oauth2-proxy send client_secret_basic or client_secret_post). Nowhere
 * else: a client secret is not a credential for the API. The client becomes the principal (its
 * roles and scopes), so the rest of the route's rule applies to it as to a bearer. Wrong
 * credentials are RFC 6749's `invalid_client` (401 with a Basic challenge), never a fall-through.
 */
@Injectable()
export class ClientCredentialsAuthenticator implements RequestAuthenticator {
  constructor(private readonly clients: ClientsService) {}

  authenticate(request: RoutedRequest, { bearer }: PresentedCredentials): Principal | undefined {
    const rule = request.routeRule;
    if (rule?.kind !== 'protected' || !rule.clientAuthentication) return undefined;
    const authorization = request.headers.authorization;
    const basic = typeof authorization === 'string' && /^basic /i.test(authorization);
    const body = formOf(request.body);
    const posted = body.client_id !== undefined || body.client_secret !== undefined;
    if (!basic && !posted) return undefined;
    if (bearer !== undefined)
      throw new OAuthError('invalid_request', 'Use one client authentication method, not both');
    const credentials = clientCredentialsFrom(basic ? authorization : undefined, body);
    const client = this.clients.authenticateOrRefuse(credentials, request);
    return Object.freeze({
      subject: client.id,
      clientId: client.id,
      roles: client.roles,
      scopes: client.scopes,
      method: 'client_credentials',
      claims: Object.freeze({ client_id: client.id }),
    });
  }
}
