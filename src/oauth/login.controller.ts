import { Body, Controller, Get, HttpCode, Post, Req, Res } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Authenticated, Public } from '../access/authenticated.decorator';
import { CurrentPrincipal } from '../access/current-principal.decorator';
import { LoginDto } from './dto/login.dto';
import { LoginResponse, PasswordLoginService } from './password-login.service';
import type { Principal } from '../access/principal';
import { RbacService } from '../rbac/rbac.service';

/**
 * The login/verify pair clients use whatever identity provider stands behind Tessera: our own
 * users log in here; `verify` answers for our tokens and for trusted issuers' tokens alike.
 */
@ApiTags('auth')
@Controller('auth')
export class LoginController {
  constructor(
    private readonly logins: PasswordLoginService,
    private readonly rbac: RbacService,
  ) {}

  @Post('login')
  @Public()
  @HttpCode(200)
  @ApiOperation({ summary: 'Email and password → access token, refresh token and claims' })
  @ApiOkResponse({ description: '{access_token, token_type, expires_in, refresh_token, claims}' })
  login(
    @Body() dto: LoginDto,
    @Req() request: FastifyRequest,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<LoginResponse> {
    reply.header('Cache-Control', 'no-store').header('Pragma', 'no-cache');
    return this.logins.login(dto.email, dto.password, request);
  }

  @Get('verify')
  @Authenticated()
  @ApiOperation({
    summary: 'The caller’s identity: {user_id, email, name, roles, permissions}',
  })
  verify(@CurrentPrincipal() who: Principal) {
    const text = (value: unknown) => (typeof value === 'string' ? value : null);
    return {
      user_id: who.subject,
      email: text(who.claims.email),
      name: text(who.claims.name),
      roles: who.roles,
      // What those roles grant now (`*`, `prefix:*` or names), so a UI can hide what would be
      // refused; the API still checks every call.
      permissions: [...this.rbac.permissionsFor(who.roles)].sort(),
    };
  }
}
