import { CallHandler, ExecutionContext, Injectable, NestInterceptor } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { catchError, concatMap, Observable } from 'rxjs';
import type { Principal } from '../access/principal';
import { AuditService } from './audit.service';

interface AuditedRequest {
  user?: Principal;
  ip?: string;
  params?: Record<string, string>;
  body?: unknown;
}

/** The action name of an audited handler, set by the `@Audit(...)` decorator. */
export const AuditAction = Reflector.createDecorator<string>();

const TARGET_PARAMS = ['id', 'kid', 'jti', 'userId', 'user_id', 'client_id', 'name', 'oid'];

/**
 * Records every call of an `@Audit(...)` handler (attached by that decorator), successful or not, after it finishes. Admin
 * changes are rare, so the row is written before the answer leaves (nothing acknowledged is lost).
 */
@Injectable()
export class AuditInterceptor implements NestInterceptor {
  constructor(
    private readonly reflector: Reflector,
    private readonly audit: AuditService,
  ) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const action = this.reflector.get(AuditAction, context.getHandler());
    if (!action) return next.handle();
    const request = context.switchToHttp().getRequest<AuditedRequest>();
    const params = request.params ?? {};
    const targetParam = TARGET_PARAMS.find((p) => params[p] !== undefined);
    const base = {
      action,
      actor: request.user?.subject,
      actorMethod: request.user?.method,
      target: targetParam ? params[targetParam] : idOf(request.body),
      ip: request.ip,
    };
    // Awaited, so the event is stored before the answer leaves.
    return next.handle().pipe(
      concatMap(async (value: unknown) => {
        await this.audit.record({
          ...base,
          target: base.target ?? idOf(value),
          outcome: 'success',
        });
        return value;
      }),
      catchError(async (error: unknown) => {
        await this.audit.record({
          ...base,
          outcome: 'failure',
          details: { error: (error as Error)?.name ?? 'Error' },
        });
        throw error;
      }),
    );
  }
}

/** The id of what was created or changed, from a body or a response (`id`, `kid`, `oid`, `jti`, `name`). */
function idOf(value: unknown): string | undefined {
  if (value === null || typeof value !== 'object') return undefined;
  const record = value as Record<string, unknown>;
  const found = TARGET_PARAMS.map((k) => record[k]).find((v) => typeof v === 'string');
  return typeof found === 'string' ? found.slice(0, 200) : undefined;
}
