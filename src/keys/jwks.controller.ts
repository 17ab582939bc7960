import { Controller, Get, Header, Inject, Res } from '@nestjs/common';
import { ApiOkResponse, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { Public } from '../access/authenticated.decorator';
import { KeysService } from './keys.service';
import type { ConfigType } from '@nestjs/config';
import { keysConfig } from '../config/configuration';

/** RFC 7517 JWK Set of every non-retired public key: what verifiers fetch and cache. */
@ApiTags('discovery')
@Controller()
@Public()
export class JwksController {
  private readonly cacheControl: string;

  constructor(
    private readonly keys: KeysService,
    @Inject(keysConfig.KEY) config: ConfigType<typeof keysConfig>,
  ) {
    this.cacheControl = `public, max-age=${config.jwksMaxAge}`;
  }

  @Get(['.well-known/jwks.json', 'jwks.json'])
  @Header('Content-Type', 'application/jwk-set+json')
  @ApiOkResponse({ description: 'JWK Set: kid, kty, alg, use and the public members only' })
  jwks(@Res({ passthrough: true }) reply: FastifyReply) {
    reply.header('Cache-Control', this.cacheControl);
    return this.keys.jwks();
  }
}
