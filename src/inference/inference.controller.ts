import { Body, Controller, Get, HttpCode, Post, Req, Res } from '@nestjs/common';
import { ApiBody, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { CurrentPrincipal } from '../access/current-principal.decorator';
import { Authenticated } from '../access/authenticated.decorator';
import type { Principal } from '../access/principal';
import { UsageService } from '../usage/usage.service';
import { ChatCompletionDto } from './dto/chat-completion.dto';
import { InferBody, InferBodyPipe } from './dto/infer-body.pipe';
import { InferDto } from './dto/infer.dto';
import { InferenceService, ModelAnswer } from './inference.service';

/**
 * The protected AI API (permission `invoke`). Each successful call is counted for the caller
 * (`GET /v1/usage`) by a direct in-memory increment: an interceptor would cost an observable
 * chain on every request of the hot path.
 */
@ApiTags('inference')
@Controller('v1')
export class InferenceController {
  constructor(
    private readonly inference: InferenceService,
    private readonly usage: UsageService,
  ) {}

  @Post('infer')
  @HttpCode(200)
  @Authenticated({ permission: 'invoke' })
  @ApiOperation({ summary: 'Echo the prompt with the caller’s token claims' })
  @ApiBody({ type: InferDto })
  infer(@Body(InferBodyPipe) dto: InferBody, @CurrentPrincipal() who: Principal) {
    this.usage.record(who.subject, 'POST /v1/infer');
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
  @Authenticated({ permission: 'invoke' })
  @ApiOperation({ summary: 'Models of the upstream server, or the built-in echo model' })
  async models(
    @CurrentPrincipal() who: Principal,
    @Res({ passthrough: true }) reply: FastifyReply,
  ) {
    return this.send(reply, who, 'GET /v1/models', await this.inference.models());
  }

  @Post('chat/completions')
  @HttpCode(200)
  @Authenticated({ permission: 'invoke' })
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
    const answer = await this.inference.chat(dto, request.body, who.subject);
    return this.send(reply, who, 'POST /v1/chat/completions', answer);
  }

  private send(reply: FastifyReply, who: Principal, endpoint: string, answer: ModelAnswer) {
    if (answer.status < 400) this.usage.record(who.subject, endpoint);
    reply.status(answer.status);
    if (answer.kind === 'stream') {
      reply
        .header('Content-Type', answer.contentType)
        .header('Cache-Control', 'no-cache')
        .header('X-Accel-Buffering', 'no');
    }
    return answer.body;
  }
}
