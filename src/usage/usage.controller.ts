import { Controller, Get } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { CurrentPrincipal } from '../access/current-principal.decorator';
import { Authenticated } from '../access/authenticated.decorator';
import type { Principal } from '../access/principal';
import { UsageService } from './usage.service';

@ApiTags('inference')
@Controller('v1/usage')
export class UsageController {
  constructor(private readonly usage: UsageService) {}

  /** The caller's own counts: the subject comes from the token, never from the request. */
  @Get()
  @Authenticated()
  @ApiOperation({ summary: 'The caller’s own request counts (per endpoint and per day)' })
  get(@CurrentPrincipal() who: Principal) {
    return this.usage.forSubject(who.subject);
  }
}
