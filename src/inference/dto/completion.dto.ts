import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import {
  IsBoolean,
  IsInt,
  IsNotEmpty,
  IsObject,
  IsOptional,
  IsString,
  Max,
  MaxLength,
  Min,
} from 'class-validator';
import { IsOneOfShapes } from './one-of-shapes.validator';

/** `POST /v1/completions` (legacy text completions). */
export class CompletionDto {
  @ApiProperty({ example: 'tessera-echo' })
  @IsString()
  @IsNotEmpty()
  @MaxLength(256)
  model: string;

  @ApiProperty({ oneOf: [{ type: 'string' }, { type: 'array' }] })
  @IsOneOfShapes(['string', 'string[]', 'number[]', 'number[][]'])
  prompt: unknown;

  @ApiPropertyOptional()
  @IsOptional()
  @IsBoolean({ message: 'stream must be a boolean' })
  stream?: boolean;

  @ApiPropertyOptional()
  @IsOptional()
  @IsObject()
  stream_options?: { include_usage?: boolean };

  @ApiPropertyOptional()
  @IsOptional()
  @IsInt({ message: 'max_tokens must be a whole number' })
  @Min(1, { message: 'max_tokens must be at least 1' })
  @Max(10_000_000)
  max_tokens?: number;
}

/** `POST /v1/embeddings`. */
export class EmbeddingDto {
  @ApiProperty({ example: 'tessera-echo' })
  @IsString()
  @IsNotEmpty()
  @MaxLength(256)
  model: string;

  @ApiProperty({ oneOf: [{ type: 'string' }, { type: 'array' }] })
  @IsOneOfShapes(['string', 'string[]', 'number[]', 'number[][]'])
  input: unknown;
}

/** `POST /v1/responses` (passed through to the upstream serving `model`). */
export class ResponsesDto {
  @ApiProperty()
  @IsString()
  @IsNotEmpty()
  @MaxLength(256)
  model: string;

  @ApiPropertyOptional()
  @IsOptional()
  @IsBoolean({ message: 'stream must be a boolean' })
  stream?: boolean;

  @ApiPropertyOptional()
  @IsOptional()
  @IsInt({ message: 'max_output_tokens must be a whole number' })
  @Min(1, { message: 'max_output_tokens must be at least 1' })
  @Max(10_000_000)
  max_output_tokens?: number;
}
