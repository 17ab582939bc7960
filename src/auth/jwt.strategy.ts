import { Injectable } from '@nestjs/common';
import { PassportStrategy } from '@nestjs/passport';
import { ExtractJwt, Strategy } from 'passport-jwt';
import { DomainError } from '../common/errors';
import { AccessTokenClaims } from '../access/access-token';
import { PrincipalFactory } from './principal.factory';
import { TokenKeyResolver } from '../keys/token-key-resolver';

/** The kid of the verified token is kept on the request for the principal. */
interface KeyedRequest {
  tokenKeyId?: string;
}

/**
 * passport-jwt over the in-memory key ring: the key comes from our ring by `kid` (as a
 * `crypto.KeyObject`, never a PEM string), algorithms are pinned, `iss`/`aud` checked by
 * jsonwebtoken, and the remaining required claims by {@link PrincipalFactory}. No I/O per request.
 */
@Injectable()
export class JwtStrategy extends PassportStrategy(Strategy, 'jwt') {
  constructor(
    resolver: TokenKeyResolver,
    private readonly principals: PrincipalFactory,
  ) {
    super({
      jwtFromRequest: ExtractJwt.fromAuthHeaderAsBearerToken(),
      // passport-jwt's types say string | Buffer; jsonwebtoken takes a KeyObject (5x faster than PEM).
      secretOrKeyProvider: (
        request: KeyedRequest,
        rawJwt: string,
        done: (err: unknown, key?: string) => void,
      ) => {
        resolver.resolve(rawJwt).then(
          ({ key, kid }) => {
            request.tokenKeyId = kid;
            done(null, key as unknown as string);
          },
          (error: unknown) => done(error instanceof DomainError ? error : new Error(String(error))),
        );
      },
      ignoreExpiration: false,
      algorithms: resolver.verifyOptions.algorithms,
      issuer: resolver.verifyOptions.issuer as string,
      audience: resolver.verifyOptions.audience as string,
      jsonWebTokenOptions: { clockTolerance: resolver.verifyOptions.clockTolerance },
      passReqToCallback: true,
    });
  }

  validate(request: KeyedRequest, claims: AccessTokenClaims) {
    return this.principals.fromAccessToken(claims, request.tokenKeyId);
  }
}
