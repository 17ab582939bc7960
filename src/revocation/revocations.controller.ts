import { Body, Controller, Delete, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { Authenticated } from '../access/authenticated.decorator';
import { CurrentPrincipal } from '../access/current-principal.decorator';
import type { Principal } from '../access/principal';
import { Audit } from '../audit/audit.decorator';
import { ValidationFailedError } from '../common/errors';
import { ListRevocationsDto } from './dto/list-revocations.dto';
import { RevokeDto } from './dto/revoke.dto';
import { RevocationsService } from './revocations.service';

/** Revoking tokens (by jti, token, subject or client) and listing what is revoked. */
@ApiTags('tokens')
@Controller()
@Authenticated({ permission: 'tokens:revoke' })
export class RevocationsController {
  constructor(private readonly revocations: RevocationsService) {}

  @Get('admin/revocations')
  @ApiTags('admin')
  @ApiOperation({
    summary:
      'Stored revocations (jti, subject and client cut-offs), newest first; page with next_cursor',
  })
  list(@Query() query: ListRevocationsDto) {
    return this.revocations.list(query);
  }

  @Post('revoke')
  @Audit('token.revoke', {
    actionFor: (body) => (fieldIn(body, 'client_id') ? 'token.revoke_client' : undefined),
    details: (body) => ({ reason: fieldIn(body, 'reason') }),
  })
  @HttpCode(200)
  @ApiOperation({
    summary: 'Revoke a token by {jti} or {token}, or a client’s by {client_id}; {reason} optional',
  })
  revoke(@Body() dto: RevokeDto, @CurrentPrincipal() who: Principal) {
    const by = `POST /revoke by ${who.subject}`;
    return this.revocations.revokeRequested(dto, dto.reason ? `${dto.reason} (${by})` : by);
  }

  @Delete('tokens/:jti')
  @Audit('token.revoke')
  @ApiOperation({ summary: 'Revoke a token by jti (a parent takes its children with it)' })
  revokeJti(@Param('jti') jti: string, @CurrentPrincipal() who: Principal) {
    if (jti.length > 200) throw new ValidationFailedError('jti must be at most 200 characters');
    return this.revocations.revokeRequested({ jti }, `DELETE /tokens by ${who.subject}`);
  }

  @Delete('users/:userId/tokens')
  @Audit('token.revoke_user')
  @ApiOperation({ summary: 'Revoke every token of a user issued until now' })
  async revokeUser(@Param('userId') userId: string, @CurrentPrincipal() who: Principal) {
    if (userId.length > 200)
      throw new ValidationFailedError('userId must be at most 200 characters');
    const outcome = await this.revocations.revokeSubject(
      userId,
      `DELETE /users/tokens by ${who.subject}`,
    );
    return {
      revoked: true,
      user_id: userId,
      parents_revoked: outcome.entries.filter((e) => e.kind === 'jti').length,
      refresh_tokens_revoked: outcome.refreshTokens,
    };
  }
}

/** A string member of a request body (as received), if there is one. */
function fieldIn(body: unknown, name: string): string | undefined {
  const value =
    body !== null && typeof body === 'object' ? (body as Record<string, unknown>)[name] : undefined;
  return typeof value === 'string' ? value.slice(0, 200) : undefined;
}
