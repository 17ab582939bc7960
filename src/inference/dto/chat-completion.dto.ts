import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import {
  ArrayMinSize,
  IsArray,
  IsBoolean,
  IsIn,
  IsInt,
  IsOptional,
  IsString,
  Max,
  MaxLength,
  Min,
  ValidateNested,
} from 'class-validator';

export class ChatMessageDto {
  @ApiProperty({ enum: ['system', 'user', 'assistant', 'tool', 'developer'] })
  @IsIn(['system', 'user', 'assistant', 'tool', 'developer'])
  role: string;

  @ApiProperty()
  @IsString()
  @MaxLength(100_000)
  content: string;
}

export class ChatCompletionDto {
  @ApiProperty({ example: 'tessera-echo' })
  @IsString()
  model: string;

  @ApiProperty({ type: [ChatMessageDto] })
  @IsArray()
  @ArrayMinSize(1, { message: 'messages must contain at least one message' })
  @ValidateNested({ each: true })
  @Type(() => ChatMessageDto)
  messages: ChatMessageDto[];

  @ApiPropertyOptional()
  @IsOptional()
  @IsBoolean()
  stream?: boolean;

  @ApiPropertyOptional()
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(100_000)
  max_tokens?: number;
}
