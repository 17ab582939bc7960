import { Controller, Get, Query } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { CurrentPrincipal } from '../access/current-principal.decorator';
import { Authenticated } from '../access/authenticated.decorator';
import type { Principal } from '../access/principal';
import { UsageQueryDto } from './dto/usage-query.dto';
import { UsageService } from './usage.service';

@ApiTags('inference')
@Controller('v1/usage')
export class UsageController {
  constructor(private readonly usage: UsageService) {}

  /** The caller's own counts: the subject comes from the token, never from the request. */
  @Get()
  @Authenticated()
  @ApiOperation({
    summary: 'The caller’s own usage: requests per endpoint and day, tokens and cost per model',
  })
  get(@CurrentPrincipal() who: Principal) {
    return this.usage.forSubject(who.subject);
  }
}

@ApiTags('admin')
@Controller('admin/usage')
export class AdminUsageController {
  constructor(private readonly usage: UsageService) {}

  /** Everyone's ledger, filtered and grouped (permission `usage:read`). */
  @Get()
  @Authenticated({ permission: 'usage:read' })
  @ApiOperation({ summary: 'The usage ledger, filtered and grouped by day, model or subject' })
  list(@Query() query: UsageQueryDto) {
    return this.usage.summary({
      subject: query.subject,
      clientId: query.client_id,
      model: query.model,
      since: query.since,
      until: query.until,
      groupBy: query.group_by ?? 'day',
    });
  }
}
