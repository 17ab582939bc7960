import { Audit } from '../audit/audit.decorator';
import {
  All,
  Body,
  Controller,
  Delete,
  Get,
  Headers,
  HttpCode,
  Param,
  Post,
  Query,
  Req,
  Res,
} from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiProduces, ApiTags } from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { CurrentPrincipal } from '../auth/decorators/current-principal.decorator';
import { Public } from '../auth/decorators/public.decorator';
import {
  Authenticated,
  RequirePermissions,
} from '../auth/decorators/require-permissions.decorator';
import type { Principal } from '../auth/principal';
import { InsufficientPermissionsError, ValidationFailedError } from '../common/errors';
import { RbacService } from '../rbac/rbac.service';
import { IssuePairDto, IssueTokenDto, RenewDto, RevokeDto } from './dto/issue-token.dto';
import { ChildTokenStream } from './child-token.stream';
import { TokenLifecycleService } from './token-lifecycle.service';

function requiredParentJti(parentJti: unknown): string {
  if (typeof parentJti !== 'string' || parentJti.length === 0 || parentJti.length > 200)
    throw new ValidationFailedError('parent_jti is required');
  return parentJti;
}

/** Parent/child tokens (the jwt-auth-service API), revocation, and Envoy external authorization. */
@ApiTags('tokens')
@Controller()
export class TokensController {
  constructor(
    private readonly lifecycle: TokenLifecycleService,
    private readonly stream: ChildTokenStream,
    private readonly rbac: RbacService,
  ) {}

  @Post('tokens')
  @Audit('token.issue_user')
  @RequirePermissions('tokens:issue')
  @ApiOperation({ summary: 'Issue an access token for a user' })
  issue(@Body() dto: IssueTokenDto, @CurrentPrincipal() who: Principal) {
    return this.lifecycle.issueAccess(who, dto);
  }

  @Post('token-pairs')
  @Audit('token.issue_pair')
  @RequirePermissions('tokens:issue')
  @ApiOperation({ summary: 'Issue a parent token and (by default) its first child' })
  pair(@Body() dto: IssuePairDto, @CurrentPrincipal() who: Principal) {
    return this.lifecycle.issuePair(who, dto);
  }

  /** The parent token in the body is the credential (as in jwt-auth-service). */
  @Post('renew')
  @Public()
  @HttpCode(200)
  @ApiOperation({ summary: 'Mint a new child from a live parent token' })
  renew(@Body() dto: RenewDto) {
    return this.lifecycle.renew(dto.parent_token);
  }

  // Public only to the global guard: the handler accepts the parent token itself as bearer,
  // which the guard (access tokens only) would refuse, and verifies it or tokens:issue itself.
  @Get('tokens/latest')
  @Public()
  @ApiBearerAuth('bearer')
  @ApiOperation({ summary: 'The newest child of a parent (bearer: that parent, or tokens:issue)' })
  async latest(
    @Query('parent_jti') parentJti: unknown,
    @Headers('authorization') authorization: string | undefined,
  ) {
    const jti = requiredParentJti(parentJti);
    await this.lifecycle.authorizeParentAccess(authorization, jti);
    return this.lifecycle.latest(jti);
  }

  @Get('tokens/stream')
  @Public()
  @ApiBearerAuth('bearer')
  @ApiProduces('text/event-stream')
  @ApiOperation({
    summary: 'Server-Sent Events: `token` for each new child, `revoked` when the parent is revoked',
  })
  async streamChildren(
    @Query('parent_jti') parentJti: unknown,
    @Headers('authorization') authorization: string | undefined,
    @Req() request: FastifyRequest,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    const jti = requiredParentJti(parentJti);
    await this.lifecycle.authorizeParentAccess(authorization, jti);
    const parent = await this.lifecycle.liveParent(jti);
    this.stream.open(parent, request, reply);
  }

  @Delete('tokens/:jti')
  @Audit('token.revoke')
  @RequirePermissions('tokens:revoke')
  @ApiOperation({ summary: 'Revoke a token by jti (a parent takes its children with it)' })
  revokeJti(@Param('jti') jti: string, @CurrentPrincipal() who: Principal) {
    if (jti.length > 200) throw new ValidationFailedError('jti must be at most 200 characters');
    return this.lifecycle.revoke({ jti }, `DELETE /tokens by ${who.subject}`);
  }

  @Delete('users/:userId/tokens')
  @Audit('token.revoke_user')
  @RequirePermissions('tokens:revoke')
  @ApiOperation({ summary: 'Revoke every token of a user issued until now' })
  revokeUser(@Param('userId') userId: string, @CurrentPrincipal() who: Principal) {
    if (userId.length > 200)
      throw new ValidationFailedError('userId must be at most 200 characters');
    return this.lifecycle.revokeUser(userId, `DELETE /users/tokens by ${who.subject}`);
  }

  @Post('revoke')
  @Audit('token.revoke')
  @HttpCode(200)
  @RequirePermissions('tokens:revoke')
  @ApiOperation({ summary: 'Revoke a token by {jti} or {token}' })
  revoke(@Body() dto: RevokeDto, @CurrentPrincipal() who: Principal) {
    return this.lifecycle.revoke(dto, `POST /revoke by ${who.subject}`);
  }

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
