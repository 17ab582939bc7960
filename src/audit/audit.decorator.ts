import { applyDecorators, UseInterceptors } from '@nestjs/common';
import { AuditAction, AuditInterceptor } from './audit.interceptor';

/**
 * Marks a handler as an audited action: the {@link AuditInterceptor} records who called it,
 * on what (the route's id-like parameter) and whether it succeeded. The interceptor is attached
 * to the audited handlers only, so unaudited routes (the hot /v1/* path) pay nothing for it.
 */
export const Audit = (action: string) =>
  applyDecorators(AuditAction(action), UseInterceptors(AuditInterceptor));
