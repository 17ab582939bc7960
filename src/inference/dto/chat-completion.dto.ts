import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  ArrayMinSize,
  IsArray,
  IsBoolean,
  IsIn,
  IsInt,
  IsNotEmpty,
  IsObject,
  IsOptional,
  IsString,
  Max,
  MaxLength,
  Min,
  ValidateNested,
} from 'class-validator';
import { IsOneOfShapes } from './one-of-shapes.validator';

export const CHAT_ROLES = ['system', 'user', 'assistant', 'tool', 'developer', 'function'];

export class ChatMessageDto {
  @ApiProperty({ enum: CHAT_ROLES })
  @IsIn(CHAT_ROLES, { message: `role must be one of ${CHAT_ROLES.join(', ')}` })
  role: string;

  /** A string, an array of content parts, or null (an assistant message with tool calls). */
  @ApiProperty({ oneOf: [{ type: 'string' }, { type: 'array' }], nullable: true })
  @IsOptional()
  @IsOneOfShapes(['string', 'object[]', 'null'])
  content?: unknown;
}

/** The fields Tessera reads; every other field is forwarded upstream as the client sent it. */
export class ChatCompletionDto {
  @ApiProperty({ example: 'tessera-echo' })
  @IsString()
  @IsNotEmpty()
  @MaxLength(256)
  model: string;

  @ApiProperty({ type: [ChatMessageDto] })
  @IsArray({ message: 'messages must be an array' })
  @ArrayMinSize(1, { message: 'messages must contain at least one message' })
  @ArrayMaxSize(10_000)
  @ValidateNested({ each: true })
  @Type(() => ChatMessageDto)
  messages: ChatMessageDto[];

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

  @ApiPropertyOptional()
  @IsOptional()
  @IsInt({ message: 'max_completion_tokens must be a whole number' })
  @Min(1, { message: 'max_completion_tokens must be at least 1' })
  @Max(10_000_000)
  max_completion_tokens?: number;
}
