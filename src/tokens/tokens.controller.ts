import { Audit } from '../audit/audit.decorator';
import { Body, Controller, Get, Headers, HttpCode, Post, Query, Req, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiProduces, ApiTags } from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { CurrentPrincipal } from '../access/current-principal.decorator';
import { Authenticated, Public } from '../access/authenticated.decorator';
import type { Principal } from '../access/principal';
import { ValidationFailedError } from '../common/errors';
import { IssuePairDto, IssueTokenDto, RenewDto } from './dto/issue-token.dto';
import { ChildTokenStream } from './child-token.stream';
import { TokenLifecycleService } from './token-lifecycle.service';

function requiredParentJti(parentJti: unknown): string {
  if (typeof parentJti !== 'string' || parentJti.length === 0 || parentJti.length > 200)
    throw new ValidationFailedError('parent_jti is required');
  return parentJti;
}

/** Access tokens for users, parent/child tokens and their renewal (the jwt-auth-service API). */
@ApiTags('tokens')
@Controller()
export class TokensController {
  constructor(
    private readonly lifecycle: TokenLifecycleService,
    private readonly stream: ChildTokenStream,
  ) {}

  @Post('tokens')
  @Audit('token.issue_user')
  @Authenticated({ permission: 'tokens:issue' })
  @ApiOperation({ summary: 'Issue an access token for a user' })
  issue(
    @Body() dto: IssueTokenDto,
    @CurrentPrincipal() who: Principal,
    @Req() request: FastifyRequest,
  ) {
    return this.lifecycle.issueAccess(who, dto, request);
  }

  @Post('token-pairs')
  @Audit('token.issue_pair')
  @Authenticated({ permission: 'tokens:issue' })
  @ApiOperation({ summary: 'Issue a parent token and (by default) its first child' })
  pair(
    @Body() dto: IssuePairDto,
    @CurrentPrincipal() who: Principal,
    @Req() request: FastifyRequest,
  ) {
    return this.lifecycle.issuePair(who, dto, request);
  }

  /** The parent token in the body is the credential (as in jwt-auth-service). */
  @Post('renew')
  @Public()
  @HttpCode(200)
  @ApiOperation({ summary: 'Mint a new child from a live parent token' })
  renew(@Body() dto: RenewDto, @Req() request: FastifyRequest) {
    return this.lifecycle.renew(dto.parent_token, request);
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
}
