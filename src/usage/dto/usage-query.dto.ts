import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsOptional, IsString, Matches, MaxLength } from 'class-validator';

const DAY = /^\d{4}-\d{2}-\d{2}$/;

/** `GET /admin/usage` filters; days are UTC and inclusive. */
export class UsageQueryDto {
  @ApiPropertyOptional({ description: 'The principal (token `sub` or API key id)' })
  @IsOptional()
  @IsString()
  @MaxLength(256)
  subject?: string;

  @ApiPropertyOptional()
  @IsOptional()
  @IsString()
  @MaxLength(256)
  client_id?: string;

  @ApiPropertyOptional()
  @IsOptional()
  @IsString()
  @MaxLength(256)
  model?: string;

  @ApiPropertyOptional({ example: '2026-11-01' })
  @IsOptional()
  @Matches(DAY, { message: 'since must be a day such as 2026-11-01' })
  since?: string;

  @ApiPropertyOptional({ example: '2026-11-30' })
  @IsOptional()
  @Matches(DAY, { message: 'until must be a day such as 2026-11-30' })
  until?: string;

  @ApiPropertyOptional({ enum: ['day', 'model', 'subject'], default: 'day' })
  @IsOptional()
  @IsIn(['day', 'model', 'subject'], { message: 'group_by must be day, model or subject' })
  group_by?: 'day' | 'model' | 'subject';
}
