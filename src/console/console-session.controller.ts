import { Body, Controller, Delete, HttpCode, Inject, Post, Req, Res } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import { ApiHeader, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Public } from '../access/authenticated.decorator';
import { LoginDto } from '../oauth/dto/login.dto';
import { OAuthService } from '../oauth/oauth.service';
import { PasswordLoginService } from '../oauth/password-login.service';
import {
  InvalidTokenError,
  NotAuthenticatedError,
  OAuthError,
  ValidationFailedError,
} from '../common/errors';
import { jwtConfig } from '../config/configuration';
import { AuditService } from '../audit/audit.service';
import { RefreshTokensService } from '../refresh-tokens/refresh-tokens.service';
import {
  clearedSessionCookie,
  readSessionCookie,
  serializeSessionCookie,
  SESSION_HEADER,
} from './session-cookie';

/** What the console's script gets: an access token for its memory, never the refresh token. */
export interface ConsoleSession {
  access_token: string;
  token_type: 'Bearer';
  expires_in: number;
}

/**
 * The console's session: sign in with the same check as `POST /auth/login` (argon2id, lockout,
 * `user.login` audit), but the refresh token goes into an HttpOnly cookie scoped to this path
 * instead of the body, so no script ever holds it; `refresh` trades the cookie for a new access
 * token, rotating the refresh token exactly as the `refresh_token` grant does (a reused one
 * revokes its family); `DELETE` signs out. Public routes: the cookie is the credential here.
 */
@ApiTags('console')
@Controller('console/api/session')
@Public()
@ApiHeader({ name: SESSION_HEADER, required: true, description: 'Any value (CSRF guard)' })
export class ConsoleSessionController {
  constructor(
    private readonly logins: PasswordLoginService,
    private readonly oauth: OAuthService,
    private readonly refreshTokens: RefreshTokensService,
    private readonly audit: AuditService,
    @Inject(jwtConfig.KEY) private readonly jwt: ConfigType<typeof jwtConfig>,
  ) {}

  @Post()
  @HttpCode(200)
  @ApiOperation({ summary: 'Console sign-in: {email, password} → access token + session cookie' })
  async signIn(
    @Body() dto: LoginDto,
    @Req() request: FastifyRequest,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<ConsoleSession> {
    requireConsoleHeader(request);
    noStore(reply);
    const login = await this.logins.login(dto.email, dto.password, request);
    reply.header('Set-Cookie', this.cookie(request, login.refresh_token));
    return {
      access_token: login.access_token,
      token_type: 'Bearer',
      expires_in: login.expires_in,
    };
  }

  @Post('refresh')
  @HttpCode(200)
  @ApiOperation({ summary: 'Session cookie → new access token (the refresh token rotates)' })
  async refresh(
    @Req() request: FastifyRequest,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<ConsoleSession> {
    requireConsoleHeader(request);
    noStore(reply);
    const presented = readSessionCookie(request.headers.cookie);
    if (!presented) throw new NotAuthenticatedError();
    let issued;
    try {
      issued = await this.oauth.refreshToken(undefined, presented);
    } catch (error) {
      // The grant answers in RFC 6749 terms; this endpoint speaks problem+json, and a refused
      // session (expired, reused, user disabled) must also lose its cookie.
      if (!(error instanceof OAuthError)) throw error;
      reply.header('Set-Cookie', clearedSessionCookie(isTls(request)));
      throw new InvalidTokenError(`console session refused: ${error.description}`);
    }
    reply.header('Set-Cookie', this.cookie(request, issued.refresh_token ?? ''));
    return {
      access_token: issued.access_token,
      token_type: 'Bearer',
      expires_in: issued.expires_in,
    };
  }

  @Delete()
  @HttpCode(204)
  @ApiOperation({ summary: 'Console sign-out: revokes the session’s refresh tokens' })
  async signOut(
    @Req() request: FastifyRequest,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<void> {
    requireConsoleHeader(request);
    const presented = readSessionCookie(request.headers.cookie);
    // A login's refresh token belongs to no client: the empty client id revokes only such a family.
    const ended = presented ? await this.refreshTokens.revokeFamilyOf(presented, '') : undefined;
    // The session's owner signed out: `user.logout`, its refresh-token family as target (never
    // the token). A missing or unknown cookie ended nothing and records nothing.
    if (ended?.outcome === 'revoked')
      await this.audit.recordDurably({
        request,
        action: 'user.logout',
        outcome: 'success',
        actor: ended.subject,
        actorMethod: 'session_cookie',
        target: ended.familyId,
        details: { source: 'console', refresh_tokens_revoked: ended.revoked },
      });
    reply.header('Set-Cookie', clearedSessionCookie(isTls(request)));
  }

  private cookie(request: FastifyRequest, refreshToken: string): string {
    return serializeSessionCookie(refreshToken, {
      maxAgeSeconds: this.jwt.refreshTokenTtl,
      secure: isTls(request),
    });
  }
}

function requireConsoleHeader(request: FastifyRequest): void {
  if (!request.headers[SESSION_HEADER])
    throw new ValidationFailedError(`The ${SESSION_HEADER} header is required`);
}

function isTls(request: FastifyRequest): boolean {
  return request.protocol === 'https';
}

function noStore(reply: FastifyReply): void {
  reply.header('Cache-Control', 'no-store').header('Pragma', 'no-cache');
}
