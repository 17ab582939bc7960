import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { CHAT_ROLES } from './openai-request.validator';

/*
 * OpenAPI descriptions of the OpenAI request bodies. They are validated by hand
 * (openai-request.validator.ts: the hot path), not by these classes.
 */

export class ChatMessageDto {
  @ApiProperty({ enum: CHAT_ROLES })
  role: string;

  @ApiProperty({
    oneOf: [{ type: 'string' }, { type: 'array', items: { type: 'object' } }],
    nullable: true,
    description: 'A string, an array of content parts, or null (an assistant tool call)',
  })
  content?: unknown;
}

/** The fields Tessera reads; every other field is forwarded upstream as the client sent it. */
export class ChatCompletionDto {
  @ApiProperty({ example: 'tessera-echo', maxLength: 256 })
  model: string;

  @ApiProperty({ type: [ChatMessageDto], minItems: 1, maxItems: 10_000 })
  messages: ChatMessageDto[];

  @ApiPropertyOptional()
  stream?: boolean;

  @ApiPropertyOptional({ example: { include_usage: true } })
  stream_options?: { include_usage?: boolean };

  @ApiPropertyOptional({ minimum: 1 })
  max_tokens?: number;

  @ApiPropertyOptional({ minimum: 1 })
  max_completion_tokens?: number;
}
