import { applyDecorators, UseInterceptors } from '@nestjs/common';
import { AuditAction, AuditInterceptor, AuditSpec } from './audit.interceptor';

/**
 * Marks a handler as an audited action: the {@link AuditInterceptor} records who called it,
 * on what (the route's id-like parameter) and whether it succeeded; with `{ before: 'get' }`, also
 * the target's fields before and after (`get` being the controller's own loader by id). The interceptor is attached
 * to the audited handlers only, so unaudited routes (the hot /v1/* path) pay nothing for it.
 */
export const Audit = (action: string, options: Omit<AuditSpec, 'action'> = {}) =>
  applyDecorators(AuditAction({ action, ...options }), UseInterceptors(AuditInterceptor));
