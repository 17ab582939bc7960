import { Inject, Injectable } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import type { AccessTokenClaims } from '../access/access-token';
import type { Principal } from '../access/principal';
import type { RequestInfo } from '../common/request-context';
import { PrincipalFactory } from '../auth/principal.factory';
import { TokenService } from '../oauth/token.service';
import {
  InsufficientPermissionsError,
  InvalidTokenError,
  NotAuthenticatedError,
  NotFoundError,
  RevokedTokenError,
  TokenExpiredError,
  ValidationFailedError,
} from '../common/errors';
import { jwtConfig } from '../config/configuration';
import { KeysService } from '../keys/keys.service';
import { RbacService } from '../rbac/rbac.service';
import { ParentTokenEntity } from './parent-token.entity';
import { ChildClaims, ParentTokensService } from './parent-tokens.service';
import { RevocationIndexService } from '../revocation/revocation-index.service';
import { IssuePairDto, IssueTokenDto } from './dto/issue-token.dto';
import { TokenVerifier } from '../keys/token-verifier';

/** Claims a caller may not set: they are Tessera's to decide. */
const PROTECTED_CLAIMS = new Set(['parent_jti', 'parent_exp']);
const MAX_CLAIMS_JSON = 2048;

export interface ChildTokenView {
  child_token: string;
  token_type: 'Bearer';
  child_jti: string;
  parent_jti: string;
  expires_in: number;
  expires_at: number;
}

const now = () => Math.floor(Date.now() / 1000);

/**
 * Issuing and renewing tokens over HTTP: the parent/child API of the jwt-auth-service Tessera
 * replaces. Whether a token is revoked is always {@link RevocationIndexService}'s answer.
 */
@Injectable()
export class TokenLifecycleService {
  constructor(
    private readonly tokens: TokenService,
    private readonly verifier: TokenVerifier,
    private readonly principals: PrincipalFactory,
    private readonly revocation: RevocationIndexService,
    private readonly parents: ParentTokensService,
    private readonly rbac: RbacService,
    private readonly keys: KeysService,
    @Inject(jwtConfig.KEY) private readonly config: ConfigType<typeof jwtConfig>,
  ) {}

  /** `POST /tokens`: an access token for `user_id`, with roles never above the caller's. */
  issueAccess(caller: Principal, dto: IssueTokenDto, origin?: RequestInfo) {
    const expiresIn = this.lifetime('expires_in', dto.expires_in, this.config.accessTokenTtl);
    const minted = this.tokens.mint({
      subject: dto.user_id,
      clientId: caller.clientId,
      scopes: caller.scopes,
      roles: this.grantableRoles(caller, dto.roles),
      tokenType: 'access',
      expiresIn,
      extra: { ...this.extraClaims(dto.claims), ...networkClaims(dto) },
      grant: 'user',
      origin,
    });
    return {
      token: minted.token,
      access_token: minted.token,
      token_type: 'Bearer' as const,
      jti: minted.jti,
      expires_in: minted.expiresIn,
      expires_at: minted.exp,
    };
  }

  /** `POST /token-pairs`: a parent (registered before it is handed out) and maybe a first child. */
  async issuePair(caller: Principal, dto: IssuePairDto, origin?: RequestInfo) {
    const parentExpiresIn = this.lifetime(
      'parent_expires_in',
      dto.parent_expires_in,
      this.config.parentTokenTtl,
    );
    const childExpiresIn = this.lifetime(
      'child_expires_in',
      dto.child_expires_in,
      Math.min(this.config.accessTokenTtl, parentExpiresIn),
    );
    if (childExpiresIn > parentExpiresIn)
      throw new ValidationFailedError('child_expires_in must not exceed parent_expires_in');
    const roles = this.grantableRoles(caller, dto.roles);
    const claims = networkClaims(dto);
    const parent = this.tokens.mint({
      subject: dto.user_id,
      clientId: caller.clientId,
      scopes: caller.scopes,
      roles,
      tokenType: 'parent',
      expiresIn: parentExpiresIn,
      extra: claims,
      grant: 'pair',
      origin,
    });
    await this.parents.register({
      jti: parent.jti,
      kid: parent.kid,
      subject: dto.user_id,
      clientId: caller.clientId,
      scopes: caller.scopes,
      roles,
      claims,
      childExpiresIn,
      expiresAt: parent.exp,
    });
    const pair: Record<string, unknown> = {
      parent_token: parent.token,
      parent_jti: parent.jti,
      parent_expires_in: parent.expiresIn,
      parent_expires_at: parent.exp,
      token_type: 'Bearer',
    };
    if (dto.include_child ?? true) {
      const child = await this.renewByJti(parent.jti, origin);
      Object.assign(pair, {
        child_token: child.child_token,
        child_jti: child.child_jti,
        child_expires_in: child.expires_in,
        child_expires_at: child.expires_at,
      });
    }
    return pair;
  }

  /** `POST /renew`: a new child of a live parent, the parent token being the credential. */
  async renew(parentToken: string, origin?: RequestInfo): Promise<ChildTokenView> {
    const { claims } = await this.verifier.verify(parentToken);
    if (claims.token_type !== 'parent') throw new InvalidTokenError('not a parent token');
    this.revocation.assertNotRevoked(claims);
    return this.renewByJti(claims.jti, origin);
  }

  /**
   * Mints the claims of a new child: the parent's subject, client, roles, scopes and extra
   * claims, plus `parent_jti` and `parent_exp`, never outliving the parent. `origin`: the
   * request that asked for it (none for the renewal worker).
   */
  mintChild(parent: ParentTokenEntity, origin?: RequestInfo): ChildClaims | undefined {
    // After a hard rotation the parent no longer verifies: it must not keep producing children.
    if (!this.keys.verificationKey(parent.kid)) return undefined;
    const parentExp = Math.floor(parent.expiresAt.getTime() / 1000);
    const minted = this.tokens.mint({
      subject: parent.subject,
      clientId: parent.clientId ?? undefined,
      scopes: parent.scopes,
      roles: parent.roles,
      tokenType: 'child',
      expiresIn: Math.max(1, Math.min(parent.childExpiresIn, parentExp - now())),
      extra: { ...parent.claims, parent_jti: parent.jti, parent_exp: parentExp },
      origin,
    });
    return minted.claims as ChildClaims;
  }

  /** `GET /tokens/latest`: the newest child, signed again (the token text is never stored). */
  async latest(parentJti: string): Promise<ChildTokenView> {
    const parent = await this.liveParent(parentJti);
    if (!parent.latestChild) throw new NotFoundError('This parent has no child token yet');
    const view = this.childView(parent.latestChild as ChildClaims);
    if (view.expires_in <= 0) throw new NotFoundError('The newest child token has expired');
    return view;
  }

  /** The parent row for a stream, or the reason it cannot be streamed. */
  async liveParent(parentJti: string): Promise<ParentTokenEntity> {
    const parent = await this.parents.find(parentJti);
    if (!parent) throw new NotFoundError('Unknown parent token');
    if (parent.revokedAt || this.revocation.isRevoked(parentClaims(parent)))
      throw new RevokedTokenError();
    if (parent.expiresAt.getTime() <= Date.now()) throw new TokenExpiredError();
    if (!this.keys.verificationKey(parent.kid))
      throw new InvalidTokenError('the parent’s signing key was retired');
    return parent;
  }

  childView(claims: ChildClaims): ChildTokenView {
    const { token } = this.tokens.sign(claims as AccessTokenClaims);
    return {
      child_token: token,
      token_type: 'Bearer',
      child_jti: claims.jti,
      parent_jti: String(claims.parent_jti),
      expires_in: claims.exp - now(),
      expires_at: claims.exp,
    };
  }

  /**
   * `GET /tokens/latest` and `/tokens/stream` take either the parent token itself (for that
   * parent only) or an access token whose roles grant `tokens:issue`.
   */
  async authorizeParentAccess(authorization: string | undefined, parentJti: string) {
    const match = /^Bearer\s+(\S+)$/i.exec(authorization ?? '');
    if (!match) throw new NotAuthenticatedError();
    const { claims, kid } = await this.verifier.verify(match[1]);
    if (claims.token_type === 'parent') {
      if (claims.jti !== parentJti) throw new InsufficientPermissionsError(['tokens:issue']);
      this.revocation.assertNotRevoked(claims);
      return;
    }
    const principal = this.principals.fromAccessToken(claims, kid);
    if (!this.rbac.allows(principal.roles, ['tokens:issue']))
      throw new InsufficientPermissionsError(['tokens:issue']);
  }

  /** Roles for a new token: the requested ones if the caller holds every permission they grant. */
  private grantableRoles(caller: Principal, requested?: string[]): string[] {
    if (!requested || requested.length === 0) return [this.rbac.defaultRole];
    const unknown = requested.find((role) => !this.rbac.isKnownRole(role));
    if (unknown) throw new ValidationFailedError(`roles: unknown role "${unknown}"`);
    const exceeding = [...this.rbac.permissionsFor(requested)].filter(
      (permission) => !this.rbac.allows(caller.roles, [permission]),
    );
    if (exceeding.length) throw new InsufficientPermissionsError(exceeding);
    return [...new Set(requested)];
  }

  private lifetime(name: string, value: number | undefined, fallback: number): number {
    const max = this.revocation.maxTokenLifetime;
    if (value !== undefined && value > max)
      throw new ValidationFailedError(`${name} must be at most ${max} seconds`);
    return value ?? fallback;
  }

  private extraClaims(claims?: Record<string, unknown>): Record<string, unknown> {
    if (!claims) return {};
    if (JSON.stringify(claims).length > MAX_CLAIMS_JSON)
      throw new ValidationFailedError(`claims must be at most ${MAX_CLAIMS_JSON} bytes of JSON`);
    return Object.fromEntries(Object.entries(claims).filter(([k]) => !PROTECTED_CLAIMS.has(k)));
  }

  private async renewByJti(parentJti: string, origin?: RequestInfo): Promise<ChildTokenView> {
    const claims = await this.parents.renew(parentJti, (parent) => this.mintChild(parent, origin));
    if (!claims) {
      await this.liveParent(parentJti);
      throw new RevokedTokenError();
    }
    return this.childView(claims);
  }
}

function networkClaims(dto: { network?: string; rate_limit?: number }): Record<string, unknown> {
  return {
    ...(dto.network !== undefined ? { network: dto.network } : {}),
    ...(dto.rate_limit !== undefined ? { rate_limit: dto.rate_limit } : {}),
  };
}

/** What the revocation index needs to judge a parent from its row. */
function parentClaims(parent: ParentTokenEntity) {
  return {
    jti: parent.jti,
    sub: parent.subject,
    client_id: parent.clientId ?? undefined,
    iat: Math.floor(parent.createdAt.getTime() / 1000),
    exp: Math.floor(parent.expiresAt.getTime() / 1000),
  };
}
