import { Body, Controller, Get, HttpCode, Param, Post, Req, Res } from '@nestjs/common';
import { ApiBody, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { CurrentPrincipal } from '../access/current-principal.decorator';
import { Authenticated } from '../access/authenticated.decorator';
import type { Principal } from '../access/principal';
import { ModelNotFoundError } from '../common/errors';
import { UsageService } from '../usage/usage.service';
import { ChatCompletionDto } from './dto/chat-completion.dto';
import { CompletionDto, EmbeddingDto, ResponsesDto } from './dto/completion.dto';
import { InferBody, InferBodyPipe } from './dto/infer-body.pipe';
import { InferDto } from './dto/infer.dto';
import { validateOpenAiRequest } from './dto/openai-request.validator';
import { Caller, InferenceService, ModelEndpoint } from './inference.service';
import { ModelAccess } from './model-access';
import { UsageLimiter } from './usage-limiter';

/**
 * The OpenAI-compatible surface (permission `invoke`). The bodies are validated by hand (only the
 * fields Tessera reads; see openai-request.validator.ts) and forwarded as the client sent them. Errors carry OpenAI's `error` object
 * (see ProblemDetailsFilter). Usage is counted when an answer ends, off the request path.
 */
@ApiTags('inference')
@Controller('v1')
export class InferenceController {
  constructor(
    private readonly inference: InferenceService,
    private readonly usage: UsageService,
    private readonly access: ModelAccess,
    private readonly limiter: UsageLimiter,
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
  @Authenticated() // per model: invoke or invoke:<glob> (ModelAccess)
  @ApiOperation({ summary: 'The models the caller may invoke (from each upstream, cached)' })
  async models(@CurrentPrincipal() who: Principal) {
    const list = await this.inference.models(this.access.matcherFor(who));
    this.usage.record(who.subject, 'GET /v1/models');
    return list;
  }

  @Get('models/:model')
  @Authenticated() // per model: invoke or invoke:<glob> (ModelAccess)
  @ApiOperation({ summary: 'One model the caller may invoke' })
  async model(@Param('model') id: string, @CurrentPrincipal() who: Principal) {
    const allowed = this.access.matcherFor(who);
    const list = await this.inference.models((model) => model === id && allowed(model));
    if (!list.data.length) throw new ModelNotFoundError(id);
    return list.data[0];
  }

  @Post('chat/completions')
  @ApiBody({ type: ChatCompletionDto })
  @HttpCode(200)
  @Authenticated() // per model: invoke or invoke:<glob> (ModelAccess)
  @ApiOperation({
    summary: 'OpenAI chat completions, to the upstream serving `model`; stream: true answers SSE',
  })
  chat(
    @Req() request: FastifyRequest,
    @CurrentPrincipal() who: Principal,
    @Res() reply: FastifyReply,
  ) {
    return this.forward('/v1/chat/completions', request, who, reply);
  }

  @Post('completions')
  @ApiBody({ type: CompletionDto })
  @HttpCode(200)
  @Authenticated() // per model: invoke or invoke:<glob> (ModelAccess)
  @ApiOperation({ summary: 'OpenAI (legacy) text completions' })
  completions(
    @Req() request: FastifyRequest,
    @CurrentPrincipal() who: Principal,
    @Res() reply: FastifyReply,
  ) {
    return this.forward('/v1/completions', request, who, reply);
  }

  @Post('embeddings')
  @ApiBody({ type: EmbeddingDto })
  @HttpCode(200)
  @Authenticated() // per model: invoke or invoke:<glob> (ModelAccess)
  @ApiOperation({ summary: 'OpenAI embeddings' })
  embeddings(
    @Req() request: FastifyRequest,
    @CurrentPrincipal() who: Principal,
    @Res() reply: FastifyReply,
  ) {
    return this.forward('/v1/embeddings', request, who, reply);
  }

  @Post('responses')
  @ApiBody({ type: ResponsesDto })
  @HttpCode(200)
  @Authenticated() // per model: invoke or invoke:<glob> (ModelAccess)
  @ApiOperation({ summary: 'OpenAI Responses API, passed through to the upstream' })
  responses(
    @Req() request: FastifyRequest,
    @CurrentPrincipal() who: Principal,
    @Res() reply: FastifyReply,
  ) {
    return this.forward('/v1/responses', request, who, reply);
  }

  private async forward(
    endpoint: ModelEndpoint,
    request: FastifyRequest,
    who: Principal,
    reply: FastifyReply,
  ) {
    // In order: a well-formed request (400), for a model that exists (404) and that this caller
    // may invoke (403), within its limits and budget (429); only then is anything forwarded.
    let body: Record<string, unknown>;
    let model: string;
    try {
      body = validateOpenAiRequest(endpoint, request.body);
      model = body.model as string;
      if (!this.inference.serves(model)) throw new ModelNotFoundError(model);
      this.access.assertAllowed(who, model, request);
    } catch (error) {
      // Refused before the limiter: still tell a token-limited caller what is left.
      await this.limiter.peek(who, endpoint, reply).catch(() => undefined);
      throw error;
    }
    const reservation = await this.limiter.reserve(who, endpoint, model, body, reply);
    const caller: Caller = { subject: who.subject, clientId: who.clientId, requestId: request.id };
    try {
      await this.inference.call(endpoint, body, caller, reply, reservation.settle);
    } catch (error) {
      reservation.settle(undefined);
      throw error;
    }
  }
}
