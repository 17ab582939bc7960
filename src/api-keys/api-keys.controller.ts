import { Audit } from '../audit/audit.decorator';
import { Body, Controller, Delete, Get, Param, Post, Query } from '@nestjs/common';
import { NoQueryParameters } from '../common/strict-query';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { CurrentPrincipal } from '../access/current-principal.decorator';
import { Authenticated } from '../access/authenticated.decorator';
import type { Principal } from '../access/principal';
import { ApiKeysService } from './api-keys.service';
import { CreateApiKeyDto } from './dto/create-api-key.dto';

@ApiTags('admin')
@Controller('admin/api-keys')
@Authenticated({ permission: 'api_keys:manage' })
export class ApiKeysController {
  constructor(private readonly keys: ApiKeysService) {}

  @Get()
  list(@Query() _query: NoQueryParameters) {
    return this.keys.list();
  }

  /** The response carries `key`: the only time it is shown (with the grant it was given). */
  @Post()
  @Audit('api_key.create')
  @ApiOperation({ summary: 'Create an API key (shown once)' })
  create(@Body() dto: CreateApiKeyDto, @CurrentPrincipal() who: Principal) {
    return this.keys.create({
      name: dto.name,
      roles: dto.roles,
      createdBy: who.subject,
      models: dto.models,
      rate_limit: dto.rate_limit,
      token_limit: dto.token_limit,
      budget: dto.budget,
    });
  }

  @Delete(':id')
  @Audit('api_key.revoke', { before: 'get' })
  @ApiOperation({ summary: 'Revoke an API key on every replica at once' })
  revoke(@Param('id') id: string) {
    return this.keys.revoke(id);
  }

  /** Not a route: the key before a revocation, for the `api_key.revoke` event's `before`. */
  get(id: string) {
    return this.keys.get(id);
  }
}
