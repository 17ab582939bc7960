import { createServer, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, type JWTPayload, type KeyLike, SignJWT } from 'jose';

interface IdpKey {
  kid: string;
  alg: string;
  privateKey: KeyLike;
  publicJwk: Record<string, unknown>;
}

/**
 * An identity provider served by the test itself: its own keys, a JWKS and OIDC discovery on a
 * local port, and a signer. `rotate()` replaces the signing key as a real IdP would.
 */
export class FakeIdp {
  private server?: Server;
  private keys: IdpKey[] = [];
  private counter = 0;
  url = '';
  /** How many times the JWKS was fetched. */
  jwksFetches = 0;

  constructor(private readonly path = '/tenant/v2.0') {}

  get issuer(): string {
    return `${this.url}${this.path}/`;
  }

  get jwksUrl(): string {
    return `${this.url}${this.path}/discovery/keys`;
  }

  get currentKid(): string {
    return this.keys[0].kid;
  }

  async start(): Promise<this> {
    await this.rotate();
    this.server = createServer((request, response) => {
      const send = (body: unknown) => {
        response.writeHead(200, { 'content-type': 'application/json' });
        response.end(JSON.stringify(body));
      };
      if (request.url === `${this.path}/.well-known/openid-configuration`)
        return send({ issuer: this.issuer, jwks_uri: this.jwksUrl });
      if (request.url === `${this.path}/discovery/keys`) {
        this.jwksFetches += 1;
        return send({ keys: this.keys.map((k) => k.publicJwk) });
      }
      response.writeHead(404).end();
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server!.address() as AddressInfo).port}`;
    return this;
  }

  /** A new signing key; the old one is dropped from the JWKS unless `keepOld`. */
  async rotate(options: { keepOld?: boolean; alg?: string } = {}): Promise<string> {
    const alg = options.alg ?? 'RS256';
    const { privateKey, publicKey } = await generateKeyPair(alg);
    this.counter += 1;
    const kid = `idp-key-${this.counter}-${Math.random().toString(36).slice(2, 8)}`;
    const publicJwk = { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' };
    const key = { kid, alg, privateKey, publicJwk };
    this.keys = options.keepOld ? [key, ...this.keys] : [key];
    return kid;
  }

  /** Signs claims (iss defaults to this IdP) with the current key, or with another IdP's. */
  async sign(
    claims: JWTPayload,
    options: { expiresIn?: string | number; with?: FakeIdp; alg?: string } = {},
  ): Promise<string> {
    const key = (options.with ?? this).keys[0];
    const jwt = new SignJWT({ iss: this.issuer, ...claims })
      .setProtectedHeader({ alg: options.alg ?? key.alg, kid: key.kid, typ: 'JWT' })
      .setIssuedAt();
    if (options.expiresIn !== undefined) jwt.setExpirationTime(options.expiresIn);
    return jwt.sign(key.privateKey);
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) =>
      this.server ? this.server.close(() => resolve()) : resolve(),
    );
  }
}
