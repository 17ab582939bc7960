import { Body, Controller, Headers, HttpCode, Post, Req, Res } from '@nestjs/common';
import { ApiBody, ApiConsumes, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { OAuthError } from '../common/errors';
import type { RequestInfo } from '../common/request-context';
import { clientCredentialsFrom, field, formOf } from '../clients/client-credentials';
import { noStore } from './oauth-form';
import { Public } from '../access/authenticated.decorator';
import { OAuthService, TokenResponse } from './oauth.service';
import { PasswordLoginService } from './password-login.service';

@ApiTags('oauth')
@Controller()
@Public()
export class OAuthController {
  constructor(
    private readonly oauth: OAuthService,
    private readonly passwordLogin: PasswordLoginService,
  ) {}

  @Post('oauth/token')
  @HttpCode(200)
  @ApiOperation({
    summary: 'RFC 6749 token endpoint (client_credentials, password, refresh_token)',
  })
  @ApiConsumes('application/x-www-form-urlencoded', 'application/json')
  @ApiBody({
    schema: {
      type: 'object',
      required: ['grant_type'],
      properties: {
        grant_type: { type: 'string', example: 'client_credentials' },
        scope: { type: 'string', example: 'model:invoke' },
        username: { type: 'string', description: 'password grant: the user’s email' },
        password: { type: 'string', description: 'password grant' },
        client_id: { type: 'string' },
        client_secret: { type: 'string' },
        refresh_token: { type: 'string', description: 'grant_type=refresh_token' },
      },
    },
  })
  @ApiOkResponse({ description: 'access_token, token_type, expires_in, scope (refresh_token)' })
  async token(
    @Body() raw: unknown,
    @Headers('authorization') authorization: string | undefined,
    @Res({ passthrough: true }) reply: FastifyReply,
    @Req() request: RequestInfo,
  ): Promise<TokenResponse> {
    const form = formOf(raw);
    const grantType = field(form, 'grant_type');
    return this.refusalsAudited(
      grantType,
      () => claimedClient(authorization, form),
      request,
      () => this.grant(grantType, form, authorization, reply, request),
    );
  }

  /** Runs a token request; a refusal (an OAuthError) is audited by OAuthService and rethrown. */
  private async refusalsAudited(
    grantType: string | undefined,
    clientId: () => string | undefined,
    request: RequestInfo,
    issue: () => Promise<TokenResponse>,
  ): Promise<TokenResponse> {
    try {
      return await issue();
    } catch (error) {
      if (error instanceof OAuthError)
        this.oauth.recordRefusal(grantType, error, clientId(), request);
      throw error;
    }
  }

  private grant(
    grantType: string | undefined,
    form: Record<string, unknown>,
    authorization: string | undefined,
    reply: FastifyReply,
    request: RequestInfo,
  ): Promise<TokenResponse> {
    if (!grantType) throw new OAuthError('invalid_request', 'grant_type is required');
    noStore(reply);
    switch (grantType) {
      case 'client_credentials':
        return this.oauth.clientCredentials(
          clientCredentialsFrom(authorization, form),
          field(form, 'scope'),
          request,
        );
      case 'password':
        return this.passwordLogin.passwordGrant(
          clientCredentialsFrom(authorization, form),
          field(form, 'username'),
          field(form, 'password'),
          field(form, 'scope'),
          request,
        );
      case 'refresh_token': {
        const refreshToken = field(form, 'refresh_token');
        if (!refreshToken) throw new OAuthError('invalid_request', 'refresh_token is required');
        // Client authentication is optional here: a person's refresh token from /auth/login
        // belongs to no client (refresh-tokens.service checks the binding).
        const hasClientAuth =
          /^basic /i.test(authorization ?? '') || field(form, 'client_id') !== undefined;
        return this.oauth.refreshToken(
          hasClientAuth ? clientCredentialsFrom(authorization, form) : undefined,
          refreshToken,
          field(form, 'scope'),
          request,
        );
      }
      default:
        throw new OAuthError('unsupported_grant_type', `Unsupported grant_type "${grantType}"`);
    }
  }

  /** The capability-token prototype's endpoint: JSON client credentials, same answer. */
  @Post('token')
  @HttpCode(200)
  @ApiOperation({ summary: 'Client credentials as JSON {client_id, client_secret, scope?}' })
  @ApiBody({
    schema: {
      type: 'object',
      required: ['client_id', 'client_secret'],
      properties: {
        client_id: { type: 'string' },
        client_secret: { type: 'string' },
        scope: { type: 'string' },
      },
    },
  })
  async simpleToken(
    @Body() raw: unknown,
    @Res({ passthrough: true }) reply: FastifyReply,
    @Req() request: RequestInfo,
  ): Promise<TokenResponse> {
    const form = formOf(raw);
    const clientId = field(form, 'client_id');
    const clientSecret = field(form, 'client_secret');
    return this.refusalsAudited(
      'client_credentials',
      () => clientId,
      request,
      async () => {
        if (!clientId) throw new OAuthError('invalid_request', 'client_id is required');
        if (!clientSecret) throw new OAuthError('invalid_request', 'client_secret is required');
        noStore(reply);
        return this.oauth.clientCredentials(
          { clientId, clientSecret },
          field(form, 'scope'),
          request,
        );
      },
    );
  }
}

/** The client a token request names (for the audit trail of a refusal), if it names one. */
function claimedClient(
  authorization: string | undefined,
  form: Record<string, unknown>,
): string | undefined {
  try {
    return clientCredentialsFrom(authorization, form).clientId;
  } catch {
    return undefined;
  }
}
