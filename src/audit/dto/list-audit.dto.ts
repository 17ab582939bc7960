import { ApiPropertyOptional, OmitType } from '@nestjs/swagger';
import { PageQueryDto } from '../../common/page-query.dto';
import { Transform } from 'class-transformer';
import { IsIn, IsNotEmpty, IsOptional, IsString, MaxLength, ValidateBy } from 'class-validator';
import { isoDateTimeProblem, parseIsoDateTime } from '../../common/iso-date';

/**
 * `since`/`until`: an ISO 8601 date-time with its offset (`2026-11-01T00:00:00Z`,
 * `2026-11-01T09:30:00.250+02:00`) or a date (`2026-11-01`, midnight UTC) that exists. Not
 * a number (`0`, `-1`), not `2026-02-30` (which `new Date` turns into 2 March).
 */
const IsoDateTime = (): PropertyDecorator => (target, property) => {
  Transform(({ value }: { value: unknown }) =>
    typeof value === 'string' ? (parseIsoDateTime(value) ?? value) : value,
  )(target, property);
  ValidateBy({
    name: 'isIsoDateTime',
    validator: {
      validate: (value: unknown) => value instanceof Date,
      defaultMessage: (args) => isoDateTimeProblem(String(args?.property), args?.value),
    },
  })(target, property);
};

/**
 * `action`, `actor`, `target`, `request_id` given empty (`?actor=`): a 400, not "no filter" — an
 * empty value matched every event, so a typo or an unset shell variable exported the whole trail.
 */
const NotEmpty = (): PropertyDecorator =>
  IsNotEmpty({ message: ({ property }) => emptyFilterProblem(property) });

/** The refusal of an empty filter value, for the HTTP API and the CLI (`--actor`). */
export function emptyFilterProblem(name: string): string {
  return `${name} must not be empty: leave it out to match every event`;
}

export class ListAuditDto extends PageQueryDto {
  @ApiPropertyOptional({
    example: 'token.*',
    description: 'exact action, or a prefix ending in .*',
  })
  @IsOptional()
  @IsString()
  @NotEmpty()
  @MaxLength(100)
  action?: string;

  @ApiPropertyOptional({ description: 'subject of the caller' })
  @IsOptional()
  @IsString()
  @NotEmpty()
  @MaxLength(200)
  actor?: string;

  @ApiPropertyOptional()
  @IsOptional()
  @IsString()
  @NotEmpty()
  @MaxLength(200)
  target?: string;

  @ApiPropertyOptional({
    description: 'the request the events happened in (its X-Request-Id, as in the request log)',
  })
  @IsOptional()
  @IsString()
  @NotEmpty()
  @MaxLength(200)
  request_id?: string;

  @ApiPropertyOptional({ enum: ['success', 'failure'] })
  @IsOptional()
  @IsIn(['success', 'failure'])
  outcome?: 'success' | 'failure';

  @ApiPropertyOptional({ type: String, format: 'date-time' })
  @IsOptional()
  @IsoDateTime()
  since?: Date;

  @ApiPropertyOptional({ type: String, format: 'date-time' })
  @IsOptional()
  @IsoDateTime()
  until?: Date;
}

/** The listing's filters without paging (an export is every matching event). */
export class ExportAuditDto extends OmitType(ListAuditDto, ['cursor', 'limit'] as const) {}
