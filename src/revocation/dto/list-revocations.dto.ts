import { ApiPropertyOptional } from '@nestjs/swagger';
import { PageQueryDto } from '../../common/page-query.dto';
import { IsIn, IsOptional } from 'class-validator';

export class ListRevocationsDto extends PageQueryDto {
  @ApiPropertyOptional({ enum: ['jti', 'subject', 'client'] })
  @IsOptional()
  @IsIn(['jti', 'subject', 'client'], { message: 'kind must be jti, subject or client' })
  kind?: 'jti' | 'subject' | 'client';
}
