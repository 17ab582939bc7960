import { Inject, Injectable } from '@nestjs/common';
import { AuditService } from '../audit/audit.service';
import { noteCaller, type RequestInfo } from '../common/request-context';
import { MetricsService } from '../metrics/metrics.service';
import type { ConfigType } from '@nestjs/config';
import { randomUUID } from 'node:crypto';
import { jwtConfig } from '../config/configuration';
import type { SigningKey } from '../keys/key-ring';
import { KeysService } from '../keys/keys.service';
import { SignatureBatch, signCompactJws, type SigningAlgorithm } from '../keys/jws-sign';
import { ACCESS_TOKEN_TYPE, AccessTokenClaims, REGISTERED_CLAIMS } from '../access/access-token';

export interface MintRequest {
  subject: string;
  clientId?: string;
  scopes?: string[];
  roles?: string[];
  tokenType?: 'access' | 'parent' | 'child';
  /** Seconds; defaults to ACCESS_TOKEN_TTL. */
  expiresIn?: number;
  /** Extra claims (parent_jti, oid, email, network…); cannot override the registered ones. */
  extra?: Record<string, unknown>;
  /**
   * What issued it, for the audit trail and `tessera_tokens_issued_total{grant}`:
   * client_credentials, password, refresh_token, login, user, pair. Default: the token type
   * (`child` for renewals).
   */
  grant?: string;
  /** The request it is issued in (the audit event's caller, address and request id), if any. */
  origin?: RequestInfo;
}

export interface MintedToken {
  token: string;
  jti: string;
  kid: string;
  exp: number;
  iat: number;
  expiresIn: number;
  claims: AccessTokenClaims;
}

const RESERVED: ReadonlySet<string> = new Set(REGISTERED_CLAIMS);

/** Mints RFC 9068 access tokens with the active key of the key ring. */
@Injectable()
export class TokenService {
  private readonly signatures = new SignatureBatch();
  /** The issuer and audience every token names (the configuration's, fixed for the process). */
  private readonly identity: { issuer: string; audience: string };

  constructor(
    @Inject(jwtConfig.KEY) private readonly config: ConfigType<typeof jwtConfig>,
    private readonly keys: KeysService,
    private readonly metrics: MetricsService,
    private readonly audit: AuditService,
  ) {
    this.identity = { issuer: config.issuer, audience: config.audience };
  }

  get accessTokenTtl(): number {
    return this.config.accessTokenTtl;
  }

  mint(request: MintRequest): MintedToken {
    const expiresIn = request.expiresIn ?? this.config.accessTokenTtl;
    const key = this.keys.signingKey();
    const { token, claims } = signAccessToken(key, this.identity, request, expiresIn);
    return this.minted(request, key, claims, token, expiresIn);
  }

  /**
   * {@link mint}, the signature made together with the others asked for in this event-loop turn
   * ({@link SignatureBatch}): the token endpoint's way, where requests come many a turn.
   */
  async mintBatched(request: MintRequest): Promise<MintedToken> {
    const expiresIn = request.expiresIn ?? this.config.accessTokenTtl;
    const key = this.keys.signingKey();
    const claims = accessTokenClaims(this.identity, request, expiresIn);
    const token = await this.signatures.sign(header(key), claims, key.privateKey);
    return this.minted(request, key, claims, token, expiresIn);
  }

  private minted(
    request: MintRequest,
    key: SigningKey,
    claims: AccessTokenClaims,
    token: string,
    expiresIn: number,
  ): MintedToken {
    this.recordIssued(request, claims, key.kid);
    return {
      token,
      jti: claims.jti,
      kid: key.kid,
      exp: claims.exp,
      iat: claims.iat,
      expiresIn,
      claims,
    };
  }

  /**
   * Every token minted is counted and audited here, whatever issued it (`token.issue`: grant,
   * subject, client, jti, kid — never the token). The actor is the caller of the request being
   * served (an admin issuing for a user), else the subject itself (a login, a client's own
   * grant; a child renewed at `POST /renew`, the parent token being the credential:
   * `parent_token`), else `system` (a child minted by the renewal worker, with no request).
   */
  private recordIssued(request: MintRequest, claims: AccessTokenClaims, kid: string): void {
    const grant = request.grant ?? request.tokenType ?? 'access';
    this.metrics.tokensIssued.inc({ grant });
    const caller = request.origin?.user;
    // A token endpoint's request has no authenticated user: its log line names whom it issued
    // for (a client's own grant, a person's login), as the audit event's actor does.
    if (request.origin && !caller)
      noteCaller(request.origin, { subject: request.subject, clientId: request.clientId });
    const worker = request.tokenType === 'child' && !request.origin;
    const renewed = request.tokenType === 'child' && request.origin !== undefined;
    void this.audit.record({
      request: request.origin,
      action: 'token.issue',
      outcome: 'success',
      actor: caller?.subject ?? (worker ? 'system' : request.subject),
      actorMethod: caller?.method ?? (renewed ? 'parent_token' : grant),
      target: claims.jti,
      details: {
        grant,
        subject: request.subject,
        client: request.clientId,
        kid,
        token_type: request.tokenType ?? 'access',
        scope: (request.scopes ?? []).join(' '),
        parent_jti: (request.extra?.parent_jti as string | undefined) ?? undefined,
      },
    });
  }

  /**
   * Signs claims that were minted earlier (a parent's newest child, served again by
   * `GET /tokens/latest`) with the active key, so the token itself never has to be stored.
   */
  sign(claims: AccessTokenClaims): { token: string; kid: string } {
    const key = this.keys.signingKey();
    return { token: signClaims(key, claims), kid: key.kid };
  }
}

/**
 * Builds and signs an access token with `key` (shared by {@link TokenService} and the CLI's
 * `token` command). `expiresIn: null` leaves out `exp`: only the CLI asks for that, and only
 * HS256-mode servers with ALLOW_NON_EXPIRING_TOKENS=true accept such tokens.
 */
export function signAccessToken(
  key: SigningKey,
  identity: { issuer: string; audience: string },
  request: MintRequest,
  expiresIn: number | null,
): { token: string; claims: AccessTokenClaims } {
  const claims = accessTokenClaims(identity, request, expiresIn);
  return { token: signClaims(key, claims), claims };
}

/** The claims of an access token (see {@link signAccessToken}). */
function accessTokenClaims(
  identity: { issuer: string; audience: string },
  request: MintRequest,
  expiresIn: number | null,
): AccessTokenClaims {
  const now = Date.now();
  const iat = Math.floor(now / 1000);
  // One object literal, then what is optional: spreading into a claims object made it a slow
  // dictionary for V8, in building and in JSON.stringify (a few µs of every token).
  const claims = {
    iss: identity.issuer,
    sub: request.subject,
    aud: identity.audience,
    iat,
    nbf: iat,
  } as AccessTokenClaims;
  if (expiresIn !== null) claims.exp = iat + expiresIn;
  // Time-ordered, from the same clock reading as iat: within a subject's or client's revocation
  // second, the revocation index tells tokens issued before the cut-off from later ones by it.
  claims.jti = uuidV7(now);
  if (request.clientId) claims.client_id = request.clientId;
  claims.scope = (request.scopes ?? []).join(' ');
  claims.roles = request.roles ?? [];
  claims.token_type = request.tokenType ?? 'access';
  // Extra claims (a grant's models and limits, a person's profile) never override these.
  for (const name in request.extra)
    if (!RESERVED.has(name) && Object.hasOwn(request.extra, name))
      claims[name] = request.extra[name];
  return claims;
}

/** The last millisecond {@link uuidV7} was asked for, and its prefix (tokens come many a ms). */
let v7Millisecond = -1;
let v7Prefix = '';

/**
 * An RFC 9562 UUIDv7: the 48-bit Unix time in milliseconds `ms`, version 7, then a random v4's
 * random bits and its variant (`randomUUID()` draws from a cached entropy pool, and the time
 * prefix is reused within a millisecond, so this stays cheap on the issuing path: ~0.15 µs more
 * than `randomUUID()` alone). Still a UUID, so the revocation index's compact table holds it.
 */
export function uuidV7(ms: number): string {
  if (ms !== v7Millisecond) {
    const time = ms.toString(16).padStart(12, '0');
    v7Prefix = `${time.slice(0, 8)}-${time.slice(8, 12)}-7`;
    v7Millisecond = ms;
  }
  return v7Prefix + randomUUID().slice(15);
}

/** RFC 9068 header (`typ: at+jwt`, `kid`): the key's own algorithm. */
function header(key: SigningKey): { alg: SigningAlgorithm; typ: string; kid: string } {
  return { alg: key.algorithm as SigningAlgorithm, typ: ACCESS_TOKEN_TYPE, kid: key.kid };
}

/** `claims` signed as a compact JWS under {@link header}. */
function signClaims(key: SigningKey, claims: AccessTokenClaims): string {
  return signCompactJws(header(key), claims, key.privateKey);
}
