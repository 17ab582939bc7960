import { All, Controller, HttpCode, Query, Res } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { Authenticated } from '../access/authenticated.decorator';
import { CurrentPrincipal } from '../access/current-principal.decorator';
import type { Principal } from '../access/principal';
import { InsufficientPermissionsError } from '../common/errors';
import { RbacService } from '../rbac/rbac.service';

/** The check of a request, offered to proxies in front of other services. */
@ApiTags('tokens')
@Controller()
export class AuthorizeController {
  constructor(private readonly rbac: RbacService) {}

  /**
   * Envoy/Istio external authorization: the global guard has verified the bearer token
   * (signature, claims, revocation, a child's parent); this answers with identity headers for
   * the upstream. `?permission=` optionally names a permission the token must grant (else 403).
   */
  // Envoy's HTTP ext_authz service sends the original method and path after `path_prefix`
  // (`GET /authorize/v1/models`); Istio and simple callers POST to /authorize.
  @All(['authorize', 'authorize/*'])
  @HttpCode(200)
  @Authenticated()
  @ApiOperation({ summary: 'External authorization (Envoy/Istio): identity headers or 401/403' })
  authorize(
    @CurrentPrincipal() who: Principal,
    @Query('permission') permission: unknown,
    @Res({ passthrough: true }) reply: FastifyReply,
  ) {
    if (typeof permission === 'string' && permission !== '') {
      if (!this.rbac.allows(who.roles, [permission]))
        throw new InsufficientPermissionsError([permission]);
    }
    reply
      .header('x-auth-subject', who.subject)
      .header('x-auth-client-id', who.clientId ?? '')
      .header('x-auth-scopes', who.scopes.join(' '))
      .header('x-auth-roles', who.roles.join(','))
      .header('x-auth-token-type', who.tokenType ?? 'access')
      .header('x-auth-jti', who.tokenId ?? '');
    return {
      allowed: true,
      subject: who.subject,
      client_id: who.clientId,
      scopes: who.scopes,
      roles: who.roles,
    };
  }
}
