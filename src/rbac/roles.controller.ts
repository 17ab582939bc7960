import { Audit } from '../audit/audit.decorator';
import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post, Query } from '@nestjs/common';
import { NoQueryParameters } from '../common/strict-query';
import { ApiTags } from '@nestjs/swagger';
import { Authenticated } from '../access/authenticated.decorator';
import { CreateRoleDto, UpdateRoleDto } from './dto/role.dto';
import { RbacService } from './rbac.service';

/** Run-time role management; changes reach every replica through NOTIFY. */
@ApiTags('admin')
@Controller('admin/roles')
@Authenticated({ permission: 'roles:manage' })
export class RolesController {
  constructor(private readonly rbac: RbacService) {}

  @Get()
  list(@Query() _query: NoQueryParameters) {
    return this.rbac.list();
  }

  @Get(':name')
  get(@Param('name') name: string, @Query() _query: NoQueryParameters) {
    return this.rbac.get(name);
  }

  @Post()
  @Audit('role.create')
  create(@Body() dto: CreateRoleDto) {
    return this.rbac.create(dto);
  }

  @Patch(':name')
  @Audit('role.update', { before: 'get' })
  update(@Param('name') name: string, @Body() dto: UpdateRoleDto) {
    return this.rbac.update(name, dto);
  }

  @Delete(':name')
  @Audit('role.delete', { before: 'get' })
  @HttpCode(204)
  async remove(@Param('name') name: string): Promise<void> {
    await this.rbac.remove(name);
  }
}
