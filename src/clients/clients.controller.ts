import { Audit } from '../audit/audit.decorator';
import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post, Query } from '@nestjs/common';
import { NoQueryParameters } from '../common/strict-query';
import { ApiTags } from '@nestjs/swagger';
import { Authenticated } from '../access/authenticated.decorator';
import { ClientsService } from './clients.service';
import { CreateClientDto, UpdateClientDto } from './dto/create-client.dto';

@ApiTags('admin')
@Controller('admin/clients')
@Authenticated({ permission: 'clients:manage' })
export class ClientsController {
  constructor(private readonly clients: ClientsService) {}

  @Get()
  list(@Query() _query: NoQueryParameters) {
    return this.clients.list();
  }

  @Get(':id')
  get(@Param('id') id: string, @Query() _query: NoQueryParameters) {
    return this.clients.get(id);
  }

  /** The response carries `client_secret`: the only time it is shown. */
  @Post()
  @Audit('client.create')
  async create(@Body() dto: CreateClientDto) {
    const { client, secret } = await this.clients.create(dto);
    return { ...client, client_secret: secret };
  }

  @Patch(':id')
  @Audit('client.update', { before: 'get' })
  update(@Param('id') id: string, @Body() dto: UpdateClientDto) {
    return this.clients.update(id, dto);
  }

  @Post(':id/secret')
  @Audit('client.secret_reset', { before: 'get' })
  async resetSecret(@Param('id') id: string) {
    const { client, secret } = await this.clients.resetSecret(id);
    return { ...client, client_secret: secret };
  }

  @Delete(':id')
  @Audit('client.delete', { before: 'get' })
  @HttpCode(204)
  async remove(@Param('id') id: string): Promise<void> {
    await this.clients.remove(id);
  }
}
