import { Controller, Get, Query, Res } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiProduces, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { Readable } from 'node:stream';
import { NoQueryParameters } from '../common/strict-query';
import { Authenticated } from '../access/authenticated.decorator';
import { CurrentPrincipal } from '../access/current-principal.decorator';
import type { Principal } from '../access/principal';
import { AuditFilter, AuditService } from './audit.service';
import { ExportAuditDto, ListAuditDto } from './dto/list-audit.dto';

@ApiTags('admin')
@Controller('admin/audit')
export class AuditController {
  constructor(private readonly audit: AuditService) {}

  @Get()
  @Authenticated({ permission: 'audit:read' })
  @ApiOperation({ summary: 'Audit events, newest first; filter and page with next_cursor' })
  list(@Query() query: ListAuditDto) {
    return this.audit.list(filterOf(query));
  }

  /** NDJSON for SIEM ingestion: streamed in keyset batches, never loaded whole. */
  @Get('export')
  @Authenticated({ permission: 'audit:read' })
  @ApiOperation({
    summary:
      'Every matching audit event, oldest first, one JSON object per line (with prev_hash and hash)',
  })
  @ApiProduces('application/x-ndjson')
  async export(
    @Query() query: ExportAuditDto,
    @CurrentPrincipal() who: Principal,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    await this.audit.recordDurably({
      request: reply.request,
      action: 'audit.export',
      outcome: 'success',
      actor: who.subject,
      actorMethod: who.method,
      details: { filter: { ...query } },
    });
    await reply
      .header('Cache-Control', 'no-store')
      .type('application/x-ndjson; charset=utf-8')
      .send(Readable.from(this.audit.exportLines(filterOf(query))));
  }

  @Get('verify')
  @Authenticated({ permission: 'audit:read' })
  @ApiOperation({
    summary: 'Walks the hash chain: intact, or the first broken link (edited, deleted, reordered)',
  })
  @ApiOkResponse({
    schema: {
      example: { intact: false, checked: 123, first_broken: { id: '57', reason: '…' } },
    },
  })
  // Takes no parameters: one given is a 400, as on the listing and the export.
  verify(@Query() _query: NoQueryParameters) {
    return this.audit.verify();
  }
}

/** The query's filters as the service takes them (`request_id` → `requestId`). */
function filterOf<Query extends ExportAuditDto>({
  request_id,
  ...rest
}: Query): Omit<Query, 'request_id'> & AuditFilter {
  return { ...rest, requestId: request_id };
}
