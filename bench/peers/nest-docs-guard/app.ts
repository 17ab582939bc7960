/**
 * Peer for `npm run bench`: the guard the NestJS docs teach — `AuthGuard('jwt')` with a
 * passport-jwt strategy given the public key as a PEM string — on Nest 11 + Fastify, plus a bare
 * `GET /open` route (the framework's ceiling). Its own small app, in its own process.
 *
 *   PORT=4000 PUBLIC_KEY_FILE=key.pem node dist/bench/peers/nest-docs-guard/app.js
 *
 * PUBLIC_KEY_FILE holds the PEM of the key that signed the tokens (the bench passes Tessera's
 * JWKS key, so both servers check the very same tokens).
 */
import 'reflect-metadata';
import { Controller, Get, Injectable, Module, Req, UseGuards } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { AuthGuard, PassportModule, PassportStrategy } from '@nestjs/passport';
import { readFileSync } from 'node:fs';
import { ExtractJwt, Strategy } from 'passport-jwt';

@Injectable()
class JwtStrategy extends PassportStrategy(Strategy) {
  constructor() {
    super({
      jwtFromRequest: ExtractJwt.fromAuthHeaderAsBearerToken(),
      secretOrKey: readFileSync(process.env.PUBLIC_KEY_FILE ?? '', 'utf8'),
      algorithms: ['RS256'],
    });
  }

  validate(payload: Record<string, unknown>) {
    return payload;
  }
}

@Controller()
class DocsController {
  @Get('open')
  open() {
    return { ok: true };
  }

  @UseGuards(AuthGuard('jwt'))
  @Get('infer')
  infer(@Req() request: { user: { sub: string } }) {
    return { ok: true, sub: request.user.sub };
  }
}

@Module({ imports: [PassportModule], controllers: [DocsController], providers: [JwtStrategy] })
class DocsAppModule {}

async function main(): Promise<void> {
  const app = await NestFactory.create(DocsAppModule, new FastifyAdapter(), { logger: false });
  await app.listen(Number(process.env.PORT ?? 3000), '127.0.0.1');
  process.stdout.write('ready\n');
}

main().catch((error: unknown) => {
  process.stderr.write(`${String(error)}\n`);
  process.exit(1);
});
