import { ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsOptional, IsString, MaxLength, ValidateBy } from 'class-validator';

export const MAX_PAGE = 500;

/** `?cursor=&limit=` of the keyset-paged admin listings (audit events, revocations). */
export class PageQueryDto {
  @ApiPropertyOptional({ description: 'next_cursor of the previous page' })
  @IsOptional()
  @IsString()
  @MaxLength(1000)
  cursor?: string;

  @ApiPropertyOptional({ default: 50, minimum: 1, maximum: MAX_PAGE })
  @IsOptional()
  @Type(() => Number)
  // One check, one message: `abc`, `0`, `1.5` and `501` are all "not a whole number from 1 to 500".
  @ValidateBy({
    name: 'isPageLimit',
    validator: {
      validate: (value: unknown) =>
        typeof value === 'number' && Number.isInteger(value) && value >= 1 && value <= MAX_PAGE,
      defaultMessage: () => `limit must be a whole number from 1 to ${MAX_PAGE}`,
    },
  })
  limit?: number;
}
