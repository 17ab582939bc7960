import { Audit } from '../audit/audit.decorator';
import { Body, Controller, Delete, Get, Param, Post } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { CurrentPrincipal } from '../auth/decorators/current-principal.decorator';
import { RequirePermissions } from '../auth/decorators/require-permissions.decorator';
import type { Principal } from '../auth/principal';
import { ApiKeysService } from './api-keys.service';
import { CreateApiKeyDto } from './dto/create-api-key.dto';

@ApiTags('admin')
@Controller('admin/api-keys')
@RequirePermissions('api_keys:manage')
export class ApiKeysController {
  constructor(private readonly keys: ApiKeysService) {}

  @Get()
  list() {
    return this.keys.list();
  }

  /** The response carries `key`: the only time it is shown. */
  @Post()
  @Audit('api_key.create')
  @ApiOperation({ summary: 'Create an API key (shown once)' })
  create(@Body() dto: CreateApiKeyDto, @CurrentPrincipal() who: Principal) {
    return this.keys.create({ name: dto.name, roles: dto.roles, createdBy: who.subject });
  }

  @Delete(':id')
  @Audit('api_key.revoke')
  @ApiOperation({ summary: 'Revoke an API key on every replica at once' })
  revoke(@Param('id') id: string) {
    return this.keys.revoke(id);
  }
}
