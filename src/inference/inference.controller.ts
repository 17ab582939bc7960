import { Body, Controller, Get, HttpCode, Post, Res, UseInterceptors } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { randomUUID } from 'node:crypto';
import { CurrentPrincipal } from '../auth/decorators/current-principal.decorator';
import { RequirePermissions } from '../auth/decorators/require-permissions.decorator';
import type { Principal } from '../auth/principal';
import { ValidationFailedError } from '../common/errors';
import { UsageInterceptor } from '../usage/usage.interceptor';
import { ChatCompletionDto } from './dto/chat-completion.dto';
import { InferDto } from './dto/infer.dto';
import { ECHO_MODEL, echoReply } from './echo-model';

/** The protected AI API (permission `invoke`). */
@ApiTags('inference')
@Controller('v1')
@UseInterceptors(UsageInterceptor)
export class InferenceController {
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
  models() {
    return {
      object: 'list',
      data: [{ id: ECHO_MODEL, object: 'model', created: 0, owned_by: 'tessera' }],
    };
  }

  @Post('chat/completions')
  @HttpCode(200)
  @RequirePermissions('invoke')
  @ApiOperation({
    summary:
      'OpenAI-compatible chat completions (built-in echo model); stream: true answers with SSE',
  })
  chat(
    @Body() dto: ChatCompletionDto,
    @CurrentPrincipal() who: Principal,
    @Res({ passthrough: true }) reply: FastifyReply,
  ) {
    if (dto.model !== ECHO_MODEL)
      throw new ValidationFailedError(
        `model: unknown model "${dto.model}" (available: ${ECHO_MODEL})`,
      );
    const id = `chatcmpl-${randomUUID()}`;
    const created = Math.floor(Date.now() / 1000);
    const content = echoReply(dto.messages);
    if (!dto.stream) {
      return {
        id,
        object: 'chat.completion',
        created,
        model: ECHO_MODEL,
        user: who.subject,
        choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: 'stop' }],
        usage: { prompt_tokens: 0, completion_tokens: 0, total_tokens: 0 },
      };
    }
    const chunk = (delta: Record<string, string>, finish: string | null) =>
      `data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created, model: ECHO_MODEL, choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;
    const words = content.split(/(?<= )/);
    const body =
      chunk({ role: 'assistant' }, null) +
      words.map((w) => chunk({ content: w }, null)).join('') +
      chunk({}, 'stop') +
      'data: [DONE]\n\n';
    reply.header('Content-Type', 'text/event-stream').header('Cache-Control', 'no-cache');
    return body;
  }
}
