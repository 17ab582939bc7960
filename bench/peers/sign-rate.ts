/**
 * Peer for `npm run bench`: how many JWT signatures one core makes per second with node:crypto
 * (the ceiling for token issuance). Prints `{"alg":…,"perSecond":…}`.
 *
 *   node dist/bench/peers/sign-rate.js RS256|ES256 [seconds]
 */
import { generateKeyPairSync, KeyObject, sign } from 'node:crypto';

const alg = process.argv[2] ?? 'RS256';
const seconds = Number(process.argv[3] ?? 3);
const { privateKey } =
  alg === 'ES256'
    ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
    : generateKeyPairSync('rsa', { modulusLength: 2048 });
// A typical signing input: base64url header and claims of an access token.
const input = Buffer.from(
  `${Buffer.from(JSON.stringify({ alg, typ: 'at+jwt', kid: 'k1' })).toString('base64url')}.${Buffer.from(
    JSON.stringify({
      iss: 'http://127.0.0.1:3000',
      sub: 'bench',
      aud: 'tessera',
      client_id: 'bench',
      scope: 'model:invoke',
      roles: ['operator'],
      jti: '0f8fad5b-d9cb-469f-a165-70867728950e',
      iat: 1764000000,
      exp: 1764000900,
    }),
  ).toString('base64url')}`,
);
const key: KeyObject | { key: KeyObject; dsaEncoding: 'ieee-p1363' } =
  alg === 'ES256' ? { key: privateKey, dsaEncoding: 'ieee-p1363' } : privateKey;

for (let i = 0; i < 200; i++) sign('sha256', input, key); // warm-up
let count = 0;
const started = process.hrtime.bigint();
const until = started + BigInt(Math.round(seconds * 1e9));
let now = started;
while (now < until) {
  for (let i = 0; i < 50; i++) sign('sha256', input, key);
  count += 50;
  now = process.hrtime.bigint();
}
const perSecond = count / (Number(now - started) / 1e9);
process.stdout.write(`${JSON.stringify({ alg, perSecond: Math.round(perSecond) })}\n`);
