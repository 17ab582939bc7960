/* global process */
// Peer for `npm run bench`: node-oidc-provider (the devDependency `oidc-provider`) as a
// client_credentials token server issuing RFC 9068 JWT access tokens, signed RS256 or ES256.
//   PORT=4000 ALG=RS256|ES256 node bench/peers/oidc-provider/server.mjs
import Provider from 'oidc-provider';
import { generateKeyPairSync } from 'node:crypto';

const alg = process.env.ALG || 'RS256';
const pair =
  alg === 'ES256'
    ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
    : generateKeyPairSync('rsa', { modulusLength: 2048 });
const jwk = { ...pair.privateKey.export({ format: 'jwk' }), kid: 'peer-1', alg, use: 'sig' };
const port = Number(process.env.PORT || 4000);
const issuer = `http://127.0.0.1:${port}`;

const provider = new Provider(issuer, {
  clients: [
    {
      client_id: 'bench',
      client_secret: process.env.CLIENT_SECRET || 'bench-secret-0123456789abcdef012345',
      grant_types: ['client_credentials'],
      redirect_uris: [],
      response_types: [],
      scope: 'model:invoke',
      token_endpoint_auth_method: 'client_secret_post',
      id_token_signed_response_alg: alg,
    },
  ],
  jwks: { keys: [jwk] },
  scopes: ['model:invoke'],
  features: {
    clientCredentials: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => 'https://api.tessera',
      useGrantedResource: () => true,
      getResourceServerInfo: () => ({
        scope: 'model:invoke',
        audience: 'tessera',
        accessTokenTTL: 900,
        accessTokenFormat: 'jwt',
        jwt: { sign: { alg } },
      }),
    },
    devInteractions: { enabled: false },
  },
});
provider.listen(port, '127.0.0.1', () => process.stdout.write(`ready ${issuer} ${alg}\n`));
