import { ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsIn, IsInt, IsOptional, IsString, Max, MaxLength, Min } from 'class-validator';

export class ListRevocationsDto {
  @ApiPropertyOptional({ enum: ['jti', 'subject', 'client'] })
  @IsOptional()
  @IsIn(['jti', 'subject', 'client'], { message: 'kind must be jti, subject or client' })
  kind?: 'jti' | 'subject' | 'client';

  @ApiPropertyOptional({ description: 'next_cursor of the previous page' })
  @IsOptional()
  @IsString()
  @MaxLength(1000)
  cursor?: string;

  @ApiPropertyOptional({ default: 50, minimum: 1, maximum: 500 })
  @IsOptional()
  @Type(() => Number)
  @IsInt({ message: 'limit must be a whole number' })
  @Min(1)
  @Max(500)
  limit?: number;
}
