import { ApiPropertyOptional } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { IsOptional, IsString, MaxLength, ValidateBy } from 'class-validator';

export const MAX_PAGE = 500;

export const PAGE_LIMIT_PROBLEM = `limit must be a whole number from 1 to ${MAX_PAGE}`;

/**
 * A page size as written by a person: decimal digits without a leading zero, 1 to
 * {@link MAX_PAGE}; anything else is undefined. `Number()` alone took `0x10` (16), `1e2` (100),
 * ` 10`, `010` and `5.0`, none of which the documentation promises.
 */
export function parsePageLimit(value: string): number | undefined {
  if (!/^[1-9][0-9]{0,3}$/.test(value)) return undefined;
  const limit = Number(value);
  return limit <= MAX_PAGE ? limit : undefined;
}

/** `?cursor=&limit=` of the keyset-paged admin listings (audit events, revocations). */
export class PageQueryDto {
  @ApiPropertyOptional({ description: 'next_cursor of the previous page' })
  @IsOptional()
  @IsString()
  @MaxLength(1000)
  cursor?: string;

  @ApiPropertyOptional({ default: 50, minimum: 1, maximum: MAX_PAGE, type: Number })
  @IsOptional()
  // Only the strict form becomes a number; anything else stays as given and fails below.
  @Transform(({ value }: { value: unknown }) =>
    typeof value === 'string' ? (parsePageLimit(value) ?? value) : value,
  )
  // One check, one message: `abc`, `0`, `1.5`, `0x10` and `501` are all "not a whole number from 1 to 500".
  @ValidateBy({
    name: 'isPageLimit',
    validator: {
      validate: (value: unknown) =>
        typeof value === 'number' && Number.isInteger(value) && value >= 1 && value <= MAX_PAGE,
      defaultMessage: () => PAGE_LIMIT_PROBLEM,
    },
  })
  limit?: number;
}
