/**
 * The NestJS documentation's way to protect a route: `AuthGuard('jwt')` from @nestjs/passport
 * with a passport-jwt strategy given the public key as a PEM string (`secretOrKey`). A separate
 * process (passport's strategy registry is global) on Fastify, with the same ValidationPipe and
 * the same handler as Tessera's /v1/infer, so only the guard differs.
 */
import 'reflect-metadata';
import {
  Body,
  Controller,
  HttpCode,
  Injectable,
  Module,
  Post,
  Req,
  UseGuards,
  ValidationPipe,
} from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, NestFastifyApplication } from '@nestjs/platform-fastify';
import { AuthGuard, PassportModule, PassportStrategy } from '@nestjs/passport';
import { ExtractJwt, Strategy } from 'passport-jwt';
import { InferDto } from '../../src/inference/dto/infer.dto';

interface DocsConfig {
  publicKeyPem: string;
  issuer: string;
  audience: string;
  algorithm: 'RS256' | 'PS256' | 'ES256';
}

const config: DocsConfig = JSON.parse(process.env.DOCS_APP_CONFIG ?? '{}') as DocsConfig;

@Injectable()
class DocsJwtStrategy extends PassportStrategy(Strategy, 'jwt') {
  constructor() {
    super({
      jwtFromRequest: ExtractJwt.fromAuthHeaderAsBearerToken(),
      ignoreExpiration: false,
      secretOrKey: config.publicKeyPem,
      algorithms: [config.algorithm],
      issuer: config.issuer,
      audience: config.audience,
    });
  }

  validate(payload: Record<string, unknown>) {
    return { sub: payload.sub, scope: payload.scope, jti: payload.jti, exp: payload.exp };
  }
}

@Controller('v1')
class DocsInferenceController {
  @Post('infer')
  @HttpCode(200)
  @UseGuards(AuthGuard('jwt'))
  infer(@Body() dto: InferDto, @Req() request: { user: Record<string, unknown> }) {
    const who = request.user;
    return {
      ok: true,
      prompt: dto.prompt,
      sub: who.sub,
      scope: who.scope,
      jti: who.jti,
      exp: who.exp,
    };
  }
}

@Module({
  imports: [PassportModule],
  controllers: [DocsInferenceController],
  providers: [DocsJwtStrategy],
})
class DocsStyleModule {}

async function main(): Promise<void> {
  const app = await NestFactory.create<NestFastifyApplication>(
    DocsStyleModule,
    new FastifyAdapter(),
    {
      logger: false,
    },
  );
  app.useGlobalPipes(new ValidationPipe({ whitelist: true, transform: true }));
  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.getHttpServer().address() as { port: number };
  process.send?.({ port: address.port });
}

void main();
