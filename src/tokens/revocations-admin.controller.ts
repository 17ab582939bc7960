import { Controller, Get, Query } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { RequirePermissions } from '../auth/decorators/require-permissions.decorator';
import { RevocationService } from '../revocation/revocation.service';
import { ListRevocationsDto } from './dto/list-revocations.dto';

@ApiTags('admin')
@Controller('admin/revocations')
export class RevocationsAdminController {
  constructor(private readonly revocation: RevocationService) {}

  @Get()
  @RequirePermissions('tokens:revoke')
  @ApiOperation({
    summary:
      'Stored revocations (jti, subject and client cut-offs), newest first; page with next_cursor',
  })
  list(@Query() query: ListRevocationsDto) {
    return this.revocation.list(query);
  }
}
