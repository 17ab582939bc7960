import { Controller, Get, Query } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { Authenticated } from '../access/authenticated.decorator';
import { AuditService } from './audit.service';
import { ListAuditDto } from './dto/list-audit.dto';

@ApiTags('admin')
@Controller('admin/audit')
export class AuditController {
  constructor(private readonly audit: AuditService) {}

  @Get()
  @Authenticated({ permission: 'audit:read' })
  @ApiOperation({ summary: 'Audit events, newest first; filter and page with next_cursor' })
  list(@Query() query: ListAuditDto) {
    return this.audit.list(query);
  }
}
