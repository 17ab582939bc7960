import { Audit } from '../audit/audit.decorator';
import { Body, Controller, Headers, HttpCode, Post, Req, Res } from '@nestjs/common';
import { ApiBody, ApiConsumes, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { Public, Authenticated } from '../access/authenticated.decorator';
import { clientCredentialsFrom, field, formOf } from '../clients/client-credentials';
import type { RequestInfo } from '../common/request-context';
import { noStore } from './oauth-form';
import { OAuthRevocationService } from './oauth-revocation.service';

/** The `token` member of a revocation or introspection request. */
function tokenOf(raw: unknown): string | undefined {
  return field(formOf(raw), 'token');
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
  constructor(private readonly oauthRevocation: OAuthRevocationService) {}

  /**
   * Client-authenticated (the client's own credentials, like the token endpoint), so it is
   * `@Public()` to the bearer guard; a client may revoke only tokens issued to it.
   */
  @Post('revoke')
  // A refused client is its client.authenticate event, not a token.revoke without an actor.
  @Audit('token.revoke', { authenticatedFailuresOnly: true })
  @Public()
  @HttpCode(200)
  @ApiOperation({ summary: 'RFC 7009 token revocation (client authentication)' })
  @ApiConsumes('application/x-www-form-urlencoded', 'application/json')
  @ApiBody(TOKEN_BODY)
  async revoke(
    @Body() raw: unknown,
    @Headers('authorization') authorization: string | undefined,
    @Res({ passthrough: true }) reply: FastifyReply,
    @Req() request: RequestInfo,
  ): Promise<Record<string, never>> {
    noStore(reply);
    await this.oauthRevocation.revoke(
      clientCredentialsFrom(authorization, formOf(raw)),
      tokenOf(raw),
      request,
    );
    return {};
  }

  /**
   * RFC 7662 §2.1: the resource server authenticates as a client (client_secret_basic or
   * client_secret_post; see ClientCredentialsAuthenticator) or with a bearer token; either way
   * the caller's roles must grant `tokens:introspect`.
   */
  @Post('introspect')
  @HttpCode(200)
  @Authenticated({ permission: 'tokens:introspect', clientAuthentication: true })
  @ApiOperation({
    summary:
      'RFC 7662 token introspection (client_secret_basic, client_secret_post or bearer; tokens:introspect)',
  })
  @ApiConsumes('application/x-www-form-urlencoded', 'application/json')
  @ApiBody(TOKEN_BODY)
  introspect(@Body() raw: unknown, @Res({ passthrough: true }) reply: FastifyReply) {
    noStore(reply);
    return this.oauthRevocation.introspect(tokenOf(raw));
  }
}
