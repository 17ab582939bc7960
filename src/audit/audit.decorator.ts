import { Reflector } from '@nestjs/core';

/**
 * Marks a handler as an audited action: the {@link AuditInterceptor} records who called it,
 * on what (the route's id-like parameter) and whether it succeeded.
 */
export const Audit = Reflector.createDecorator<string>();
