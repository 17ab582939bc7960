import { Inject, Injectable } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import type { KeyObject } from 'node:crypto';
import type { Algorithm, VerifyOptions } from 'jsonwebtoken';
import { InvalidTokenError, MisconfiguredError } from '../common/errors';
import { jwtConfig } from '../config/configuration';
import { KeysService } from './keys.service';
import type { VerificationKey } from './key-ring';
import { isAccessTokenType } from '../access/access-token';
import { sharedSecretKey } from './shared-secret';
import type { SigningAlgorithm } from './jws-sign';

export interface JoseHeader {
  alg?: unknown;
  typ?: unknown;
  kid?: unknown;
  [member: string]: unknown;
}

export interface ResolvedKey {
  key: KeyObject;
  kid: string;
  algorithm: SigningAlgorithm;
}

/** Decoded headers remembered (a handful of keys sign everything; junk only refills it). */
const HEADER_CACHE_SIZE = 64;

/** Decodes the protected header without trusting it: only used to pick a key we already hold. */
export function decodeHeader(token: string): JoseHeader {
  const dot = token.indexOf('.');
  if (dot <= 0) throw new InvalidTokenError('not a JWS compact serialization');
  try {
    const header = JSON.parse(
      Buffer.from(token.slice(0, dot), 'base64url').toString('utf8'),
    ) as unknown;
    if (header === null || typeof header !== 'object' || Array.isArray(header))
      throw new Error('not an object');
    return header as JoseHeader;
  } catch {
    throw new InvalidTokenError('malformed header');
  }
}

/**
 * Chooses the verification key for a token from the in-memory key ring, by `kid` only.
 * Stops the classic JWT attacks before any signature math: `alg: none`, an HS256 token
 * "signed" with our public key (the alg must equal the key's own), keys embedded in the
 * header (`jwk`, `jku`, `x5u`, `x5c` are never consulted), a `crit` header, and tokens of
 * another type.
 */
@Injectable()
export class TokenKeyResolver {
  readonly verifyOptions: VerifyOptions;
  /** HS256 mode: the shared secret's kid, used for tokens that carry none (PyJWT's, say). */
  private readonly sharedKid?: string;
  private readonly headers = new Map<string, JoseHeader>();

  constructor(
    @Inject(jwtConfig.KEY) config: ConfigType<typeof jwtConfig>,
    private readonly keys: KeysService,
  ) {
    const algorithms: Algorithm[] =
      config.algorithm === 'HS256' ? ['HS256'] : ['RS256', 'PS256', 'ES256'];
    this.verifyOptions = {
      algorithms,
      issuer: config.issuer,
      audience: config.audience,
      clockTolerance: 0,
    };
    if (config.algorithm === 'HS256' && config.secretKey)
      this.sharedKid = sharedSecretKey(config.secretKey).kid;
  }

  /**
   * The key for `token`: at once from the ring, or — a kid the ring does not hold — a promise
   * while the ring is reloaded from the database once (a key another replica just made).
   */
  resolve(token: string): ResolvedKey | Promise<ResolvedKey> {
    // HS256: without a usable shared secret nothing can be verified; that is our fault (500),
    // not the caller's (401). (Startup refuses a short secret; this guards the impossible case.)
    if (this.keys.symmetric && !this.keys.isReady)
      throw new MisconfiguredError('Authentication system misconfigured');
    const header = this.header(token);
    if (
      typeof header.alg !== 'string' ||
      !(this.verifyOptions.algorithms as string[]).includes(header.alg)
    ) {
      throw new InvalidTokenError(`algorithm ${String(header.alg)} not accepted`);
    }
    // RFC 7515 §4.1.11: a recipient must reject a token whose `crit` names an extension it does
    // not understand. Tessera understands none (and a malformed `crit` is invalid anyway).
    if (header.crit !== undefined) throw new InvalidTokenError('crit header not understood');
    if (!isAccessTokenType(header.typ))
      throw new InvalidTokenError(`typ ${String(header.typ)} is not at+jwt`);
    // One shared secret, one key: a token without `kid` is checked with it (standard libraries,
    // PyJWT among them, add no kid); every other check (typ, iss, aud, exp…) still applies.
    const kid = header.kid === undefined && this.sharedKid ? this.sharedKid : header.kid;
    if (typeof kid !== 'string' || kid.length === 0 || kid.length > 200) {
      throw new InvalidTokenError('missing kid');
    }
    const key = this.keys.verificationKey(kid);
    if (key) return accept(key, header.alg);
    const alg = header.alg;
    return this.keys.verificationKeyWithRefresh(kid).then((refreshed) => {
      if (!refreshed) throw new InvalidTokenError('unknown kid');
      return accept(refreshed, alg);
    });
  }

  /**
   * The decoded protected header. Every token one key signs has the very same header segment,
   * so the decoded form of the last few is kept (read-only, by the exact segment text): a new
   * token of a known key skips the base64 and JSON work.
   */
  private header(token: string): JoseHeader {
    const dot = token.indexOf('.');
    const segment = dot > 0 ? token.slice(0, dot) : token;
    let header = this.headers.get(segment);
    if (header === undefined) {
      header = Object.freeze(decodeHeader(token));
      if (this.headers.size >= HEADER_CACHE_SIZE) this.headers.clear();
      this.headers.set(segment, header);
    }
    return header;
  }
}

function accept(key: VerificationKey, alg: string): ResolvedKey {
  if (key.algorithm !== alg) throw new InvalidTokenError('alg does not match the key');
  return { key: key.key, kid: key.kid, algorithm: key.algorithm as SigningAlgorithm };
}
