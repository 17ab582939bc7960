import { Audit } from '../audit/audit.decorator';
import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post, Query } from '@nestjs/common';
import { NoQueryParameters } from '../common/strict-query';
import { ApiTags } from '@nestjs/swagger';
import { Authenticated } from '../access/authenticated.decorator';
import { CreateUserDto, UpdateUserDto } from './dto/create-user.dto';
import { UsersService } from './users.service';

/** People administration. Password hashes are never returned. */
@ApiTags('admin')
@Controller('admin/users')
@Authenticated({ permission: 'users:manage' })
export class UsersController {
  constructor(private readonly users: UsersService) {}

  @Get()
  list(@Query() _query: NoQueryParameters) {
    return this.users.list();
  }

  @Get(':oid')
  get(@Param('oid') oid: string, @Query() _query: NoQueryParameters) {
    return this.users.get(oid);
  }

  @Post()
  @Audit('user.create')
  create(@Body() dto: CreateUserDto) {
    return this.users.create(dto);
  }

  @Patch(':oid')
  @Audit('user.update', { before: 'get' })
  update(@Param('oid') oid: string, @Body() dto: UpdateUserDto) {
    return this.users.update(oid, dto);
  }

  @Delete(':oid')
  @Audit('user.delete', { before: 'get' })
  @HttpCode(204)
  async remove(@Param('oid') oid: string): Promise<void> {
    await this.users.remove(oid);
  }
}
