import { Body, Controller, Get, HttpCode, Post, Req, Res, UseInterceptors } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { CurrentPrincipal } from '../auth/decorators/current-principal.decorator';
import { RequirePermissions } from '../auth/decorators/require-permissions.decorator';
import type { Principal } from '../auth/principal';
import { UsageInterceptor } from '../usage/usage.interceptor';
import { ChatCompletionDto } from './dto/chat-completion.dto';
import { InferDto } from './dto/infer.dto';
import { InferenceService, ModelAnswer } from './inference.service';

/** The protected AI API (permission `invoke`). */
@ApiTags('inference')
@Controller('v1')
@UseInterceptors(UsageInterceptor)
export class InferenceController {
  constructor(private readonly inference: InferenceService) {}

  @Post('infer')
  @HttpCode(200)
  @RequirePermissions('invoke')
  @ApiOperation({ summary: 'Echo the prompt with the caller’s token claims' })
  infer(@Body() dto: InferDto, @CurrentPrincipal() who: Principal) {
    return {
      ok: true,
      prompt: dto.prompt,
      sub: who.subject,
      scope: who.scopes.join(' '),
      jti: who.tokenId,
      kid: who.keyId,
      exp: who.expiresAt,
    };
  }

  @Get('models')
  @RequirePermissions('invoke')
  @ApiOperation({ summary: 'Models of the upstream server, or the built-in echo model' })
  async models(@Res({ passthrough: true }) reply: FastifyReply) {
    return send(reply, await this.inference.models());
  }

  @Post('chat/completions')
  @HttpCode(200)
  @RequirePermissions('invoke')
  @ApiOperation({
    summary:
      'OpenAI-compatible chat completions (proxied to UPSTREAM_URL, or the echo model); stream: true answers with SSE',
  })
  async chat(
    @Body() dto: ChatCompletionDto,
    @Req() request: FastifyRequest,
    @CurrentPrincipal() who: Principal,
    @Res({ passthrough: true }) reply: FastifyReply,
  ) {
    return send(reply, await this.inference.chat(dto, request.body, who.subject));
  }
}

function send(reply: FastifyReply, answer: ModelAnswer) {
  reply.status(answer.status);
  if (answer.kind === 'stream') {
    reply
      .header('Content-Type', answer.contentType)
      .header('Cache-Control', 'no-cache')
      .header('X-Accel-Buffering', 'no');
  }
  return answer.body;
}
