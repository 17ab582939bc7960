import { ApiPropertyOptional, OmitType } from '@nestjs/swagger';
import { PageQueryDto } from '../../common/page-query.dto';
import { Type } from 'class-transformer';
import { IsDate, IsIn, IsOptional, IsString, MaxLength } from 'class-validator';

export class ListAuditDto extends PageQueryDto {
  @ApiPropertyOptional({
    example: 'token.*',
    description: 'exact action, or a prefix ending in .*',
  })
  @IsOptional()
  @IsString()
  @MaxLength(100)
  action?: string;

  @ApiPropertyOptional({ description: 'subject of the caller' })
  @IsOptional()
  @IsString()
  @MaxLength(200)
  actor?: string;

  @ApiPropertyOptional()
  @IsOptional()
  @IsString()
  @MaxLength(200)
  target?: string;

  @ApiPropertyOptional({
    description: 'the request the events happened in (its X-Request-Id, as in the request log)',
  })
  @IsOptional()
  @IsString()
  @MaxLength(200)
  request_id?: string;

  @ApiPropertyOptional({ enum: ['success', 'failure'] })
  @IsOptional()
  @IsIn(['success', 'failure'])
  outcome?: 'success' | 'failure';

  @ApiPropertyOptional({ type: String, format: 'date-time' })
  @IsOptional()
  @Type(() => Date)
  @IsDate({ message: 'since must be an ISO 8601 date' })
  since?: Date;

  @ApiPropertyOptional({ type: String, format: 'date-time' })
  @IsOptional()
  @Type(() => Date)
  @IsDate({ message: 'until must be an ISO 8601 date' })
  until?: Date;
}

/** The listing's filters without paging (an export is every matching event). */
export class ExportAuditDto extends OmitType(ListAuditDto, ['cursor', 'limit'] as const) {}
