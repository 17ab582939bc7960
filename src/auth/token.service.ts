import { Inject, Injectable } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import { sign, SignOptions } from 'jsonwebtoken';
import { randomUUID } from 'node:crypto';
import { jwtConfig } from '../config/configuration';
import { KeysService } from '../keys/keys.service';
import { ACCESS_TOKEN_TYPE, AccessTokenClaims } from './access-token';

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

const RESERVED = new Set([
  'iss',
  'sub',
  'aud',
  'exp',
  'iat',
  'nbf',
  'jti',
  'client_id',
  'scope',
  'roles',
  'token_type',
]);

/** Mints RFC 9068 access tokens with the active key of the key ring. */
@Injectable()
export class TokenService {
  constructor(
    @Inject(jwtConfig.KEY) private readonly config: ConfigType<typeof jwtConfig>,
    private readonly keys: KeysService,
  ) {}

  get accessTokenTtl(): number {
    return this.config.accessTokenTtl;
  }

  mint(request: MintRequest): MintedToken {
    const iat = Math.floor(Date.now() / 1000);
    const expiresIn = request.expiresIn ?? this.config.accessTokenTtl;
    const jti = randomUUID();
    const extra = Object.fromEntries(
      Object.entries(request.extra ?? {}).filter(([name]) => !RESERVED.has(name)),
    );
    const claims: AccessTokenClaims = {
      ...extra,
      iss: this.config.issuer,
      sub: request.subject,
      aud: this.config.audience,
      iat,
      nbf: iat,
      exp: iat + expiresIn,
      jti,
      ...(request.clientId ? { client_id: request.clientId } : {}),
      scope: (request.scopes ?? []).join(' '),
      roles: request.roles ?? [],
      token_type: request.tokenType ?? 'access',
    };
    const { token, kid } = this.sign(claims);
    return { token, jti, kid, exp: claims.exp, iat, expiresIn, claims };
  }

  /**
   * Signs claims that were minted earlier (a parent's newest child, served again by
   * `GET /tokens/latest`) with the active key, so the token itself never has to be stored.
   */
  sign(claims: AccessTokenClaims): { token: string; kid: string } {
    const key = this.keys.signingKey();
    const options: SignOptions = {
      algorithm: key.algorithm as SignOptions['algorithm'],
      keyid: key.kid,
      header: { alg: key.algorithm, typ: ACCESS_TOKEN_TYPE, kid: key.kid } as SignOptions['header'],
    };
    return { token: sign(claims, key.privateKey, options), kid: key.kid };
  }
}
