import {
  CallHandler,
  ExecutionContext,
  NestInterceptor,
  Type,
  UseInterceptors,
} from '@nestjs/common';
import { getMetadataStorage } from 'class-validator';
import type { Observable } from 'rxjs';
import { ValidationFailedError } from './errors';

/**
 * Refuses, with a 400 naming the parameter, a query parameter the DTO does not declare (a typo
 * such as `outcom=failure` would otherwise be dropped by the global pipe's whitelist, widening
 * the query: `limit` on an export made it a full export) and one given more than once. Runs as an
 * interceptor, after the guards and before the pipes, on the query as received.
 */
export const StrictQuery = (dto: Type<object>) => UseInterceptors(new StrictQueryInterceptor(dto));

export class StrictQueryInterceptor implements NestInterceptor {
  private known?: readonly string[];

  constructor(private readonly dto: Type<object>) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const query = context.switchToHttp().getRequest<{ query?: unknown }>().query;
    if (query && typeof query === 'object')
      checkQuery(query as Record<string, unknown>, this.names());
    return next.handle();
  }

  /** The DTO's parameters (those with a validator), inherited ones too. */
  names(): readonly string[] {
    this.known ??= [
      ...new Set(
        getMetadataStorage()
          .getTargetValidationMetadatas(this.dto, '', true, false)
          .map((m) => m.propertyName),
      ),
    ];
    return this.known;
  }
}

export function checkQuery(query: Record<string, unknown>, known: readonly string[]): void {
  for (const [name, value] of Object.entries(query)) {
    if (!known.includes(name))
      throw new ValidationFailedError(
        `unknown query parameter "${name.slice(0, 100)}" (this endpoint takes ${known.join(', ')})`,
        name.slice(0, 100),
      );
    if (Array.isArray(value)) throw new ValidationFailedError(`${name} must be given once`, name);
  }
}
