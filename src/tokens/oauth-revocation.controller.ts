import { Audit } from '../audit/audit.decorator';
import { Body, Controller, Headers, HttpCode, Post, Res } from '@nestjs/common';
import { ApiBody, ApiConsumes, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { Public } from '../auth/decorators/public.decorator';
import { RequirePermissions } from '../auth/decorators/require-permissions.decorator';
import { clientCredentialsFrom } from '../auth/oauth.controller';
import { OAuthError } from '../common/errors';
import { TokenLifecycleService } from './token-lifecycle.service';

type Form = Record<string, unknown>;

function form(raw: unknown): Form {
  return raw !== null && typeof raw === 'object' && !Array.isArray(raw) ? (raw as Form) : {};
}

function token(body: Form): string | undefined {
  const value = body.token;
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value !== 'string') throw new OAuthError('invalid_request', 'token must be a string');
  return value;
}

const TOKEN_BODY = {
  schema: {
    type: 'object',
    required: ['token'],
    properties: { token: { type: 'string' }, token_type_hint: { type: 'string' } },
  },
};

/** RFC 7009 revocation and RFC 7662 introspection. */
@ApiTags('oauth')
@Controller('oauth')
export class OAuthRevocationController {
  constructor(private readonly lifecycle: TokenLifecycleService) {}

  /**
   * Client-authenticated (the client's own credentials, like the token endpoint), so it is
   * `@Public()` to the bearer guard; a client may revoke only tokens issued to it.
   */
  @Post('revoke')
  @Audit('token.revoke')
  @Public()
  @HttpCode(200)
  @ApiOperation({ summary: 'RFC 7009 token revocation (client authentication)' })
  @ApiConsumes('application/x-www-form-urlencoded', 'application/json')
  @ApiBody(TOKEN_BODY)
  async revoke(
    @Body() raw: unknown,
    @Headers('authorization') authorization: string | undefined,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<Record<string, never>> {
    const body = form(raw);
    reply.header('Cache-Control', 'no-store');
    await this.lifecycle.oauthRevoke(clientCredentialsFrom(authorization, body), token(body));
    return {};
  }

  /** RFC 7662 §2.1 lets the resource server authenticate with a bearer token: this one must grant `tokens:introspect`. */
  @Post('introspect')
  @HttpCode(200)
  @RequirePermissions('tokens:introspect')
  @ApiOperation({ summary: 'RFC 7662 token introspection (bearer with tokens:introspect)' })
  @ApiConsumes('application/x-www-form-urlencoded', 'application/json')
  @ApiBody(TOKEN_BODY)
  introspect(@Body() raw: unknown, @Res({ passthrough: true }) reply: FastifyReply) {
    reply.header('Cache-Control', 'no-store');
    return this.lifecycle.introspect(token(form(raw)));
  }
}
