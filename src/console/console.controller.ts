import { Controller, Get, Param, Res } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { Public } from '../access/authenticated.decorator';
import { NotFoundError, ServiceUnavailableError } from '../common/errors';
import { ConsoleAssets } from './console-assets';

/**
 * The console's pages get a strict policy: scripts, styles and fetches from this origin only, no
 * inline script or style element, no plugins, no framing by anyone (clickjacking), no referrer.
 */
export const CONSOLE_SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'Content-Security-Policy': [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "font-src 'self'",
    "connect-src 'self'",
    "manifest-src 'self'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join('; '),
  'X-Frame-Options': 'DENY',
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Resource-Policy': 'same-origin',
};

/**
 * Serves the built single-page console (`console/dist`) at `/console`. Public: the pages hold no
 * data; every action goes through the admin API with the signed-in person's token and
 * permissions. Hashed assets are cached for a year; the page itself is revalidated each time.
 */
@ApiExcludeController()
@Controller('console')
@Public()
export class ConsoleController {
  private readonly assets = new ConsoleAssets();

  @Get()
  index(@Res() reply: FastifyReply): FastifyReply {
    return this.send(reply, '');
  }

  @Get('*')
  file(@Param('*') path: string, @Res() reply: FastifyReply): FastifyReply {
    return this.send(reply, path ?? '');
  }

  private send(reply: FastifyReply, path: string): FastifyReply {
    if (!this.assets.built)
      throw new ServiceUnavailableError(
        'The console has not been built: run `npm run build` (or `npm run build:console`)',
      );
    // The session endpoints are POST/DELETE under /console/api; nothing there is a page.
    const file = path.startsWith('api/') ? undefined : this.assets.resolve(path);
    if (!file) throw new NotFoundError(`No console file ${path}`);
    reply.headers(CONSOLE_SECURITY_HEADERS);
    reply.header(
      'Cache-Control',
      file.startsWith('assets/') ? 'public, max-age=31536000, immutable' : 'no-cache',
    );
    return reply.sendFile(file, this.assets.root, { cacheControl: false });
  }
}
