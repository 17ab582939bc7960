import { CallHandler, ExecutionContext, Injectable, NestInterceptor } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { Observable, tap } from 'rxjs';
import type { AuthenticatedRequest } from '../auth/principal';
import { UsageService } from './usage.service';

/**
 * Counts each successful request of the routes it decorates (`@UseInterceptors(UsageInterceptor)`)
 * for the authenticated principal, as `METHOD /route/pattern`. Failed requests are not counted.
 */
@Injectable()
export class UsageInterceptor implements NestInterceptor {
  constructor(private readonly usage: UsageService) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const request = context.switchToHttp().getRequest<FastifyRequest & AuthenticatedRequest>();
    const subject = request.user?.subject;
    if (!subject) return next.handle();
    const endpoint = `${request.method} ${request.routeOptions?.url ?? request.url.split('?')[0]}`;
    return next.handle().pipe(tap(() => this.usage.record(subject, endpoint)));
  }
}
