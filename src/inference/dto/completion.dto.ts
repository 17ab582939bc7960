import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';

/* OpenAPI descriptions only; validated by openai-request.validator.ts. */

const TEXT_OR_TOKENS = {
  oneOf: [
    { type: 'string' },
    { type: 'array', items: { type: 'string' } },
    { type: 'array', items: { type: 'integer' } },
    { type: 'array', items: { type: 'array', items: { type: 'integer' } } },
  ],
};

/** `POST /v1/completions` (legacy text completions). */
export class CompletionDto {
  @ApiProperty({ example: 'tessera-echo', maxLength: 256 })
  model: string;

  @ApiProperty(TEXT_OR_TOKENS)
  prompt: unknown;

  @ApiPropertyOptional()
  stream?: boolean;

  @ApiPropertyOptional({ example: { include_usage: true } })
  stream_options?: { include_usage?: boolean };

  @ApiPropertyOptional({ minimum: 1 })
  max_tokens?: number;
}

/** `POST /v1/embeddings`. */
export class EmbeddingDto {
  @ApiProperty({ example: 'tessera-echo', maxLength: 256 })
  model: string;

  @ApiProperty(TEXT_OR_TOKENS)
  input: unknown;
}

/** `POST /v1/responses` (passed through to the upstream serving `model`). */
export class ResponsesDto {
  @ApiProperty({ maxLength: 256 })
  model: string;

  @ApiPropertyOptional()
  stream?: boolean;

  @ApiPropertyOptional({ minimum: 1 })
  max_output_tokens?: number;
}
