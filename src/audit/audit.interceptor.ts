import { CallHandler, ExecutionContext, Injectable, NestInterceptor } from '@nestjs/common';
import { ModuleRef, Reflector } from '@nestjs/core';
import { catchError, concatMap, from, Observable } from 'rxjs';
import type { Principal } from '../access/principal';
import { answerOf } from '../common/problem-details.filter';
import { callerOf, type RequestInfo } from '../common/request-context';
import { beforeAfter, isSecretKey } from './audit-details';

const AUDIT_TARGET = Symbol('tessera.auditTarget');
const AUDIT_DETAILS = Symbol('tessera.auditDetails');

/**
 * For a handler whose target is known only inside it (RFC 7009 revocation: the jti of the token
 * presented, never the token): the `@Audit` event's target.
 */
export function noteAuditTarget(request: object, target: string): void {
  (request as Record<symbol, unknown>)[AUDIT_TARGET] = target;
}

function notedTarget(request: object): string | undefined {
  return (request as Record<symbol, unknown>)[AUDIT_TARGET] as string | undefined;
}

/**
 * For a handler whose change is known only inside it (a rotation: the keys' states before and
 * after, the kids it retired): details added to its `@Audit` success event, over the defaults.
 */
export function noteAuditDetails(request: object, details: Record<string, unknown>): void {
  (request as Record<symbol, unknown>)[AUDIT_DETAILS] = details;
}

function notedDetails(request: object): Record<string, unknown> | undefined {
  return (request as Record<symbol, unknown>)[AUDIT_DETAILS] as Record<string, unknown> | undefined;
}

/**
 * Who acted: the authenticated principal, or — on a public endpoint that authenticates its
 * client itself (`/oauth/revoke`) — the client it named ({@link callerOf}), once the handler ran.
 */
function actorOf(request: AuditedRequest): { actor?: string; actorMethod?: string } {
  if (request.user) return { actor: request.user.subject, actorMethod: request.user.method };
  const caller = callerOf(request);
  return caller ? { actor: caller.subject, actorMethod: 'client_secret' } : {};
}
import { AuditService } from './audit.service';

interface AuditedRequest extends RequestInfo {
  user?: Principal;
  params?: Record<string, string>;
  body?: unknown;
}

/** What `@Audit(...)` declares on a handler. */
export interface AuditSpec {
  action: string;
  /**
   * A method of the same controller that loads the target by id (`get`): its answer before the
   * change is recorded as `details.before` (changed fields only for an update, all of it for a
   * delete), the handler's answer as `details.after`. Views never hold secrets, and detail keys
   * that look like one are redacted anyway.
   */
  before?: string;
  /**
   * Details the handler's request adds to its event, success or failure (`keys.rotate`: the
   * `mode` asked for, `automatic: false`). Computed from the body as received.
   */
  details?: (body: unknown) => Record<string, unknown>;
  /** The action when it depends on the request (`POST /revoke`: a token or a client's). */
  actionFor?: (body: unknown) => string | undefined;
  /**
   * A public endpoint that authenticates its caller itself (`/oauth/revoke`): a failure before
   * anyone authenticated is not this action's event — the refused client is already
   * `client.authenticate` — so none is written (as `/oauth/introspect` writes none).
   */
  authenticatedFailuresOnly?: boolean;
}

/** The audit spec of a handler, set by the `@Audit(...)` decorator. */
export const AuditAction = Reflector.createDecorator<AuditSpec>();

/** Fields that identify what was acted on, most specific first. */
const ID_FIELDS = ['id', 'oid', 'kid', 'jti', 'userId', 'user_id', 'client_id'];
/** What names a target that has no id (a role is known by its name), tried after every id. */
const NAME_FIELDS = ['name', 'email'];
/** Route parameters naming the target: an id first, a name when there is none. */
const TARGET_PARAMS = [...ID_FIELDS, ...NAME_FIELDS];

/**
 * Records every call of an `@Audit(...)` handler (attached by that decorator), successful or
 * not, after it finishes, with actor, target and — where the decorator names a loader — the
 * target's non-secret fields before and after. Admin changes are rare, so the event is stored
 * before the answer leaves (nothing acknowledged is lost).
 */
@Injectable()
export class AuditInterceptor implements NestInterceptor {
  constructor(
    private readonly reflector: Reflector,
    private readonly audit: AuditService,
    private readonly moduleRef: ModuleRef,
  ) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const spec = this.reflector.get(AuditAction, context.getHandler());
    if (!spec) return next.handle();
    const request = context.switchToHttp().getRequest<AuditedRequest>();
    const params = request.params ?? {};
    // The id acted on: a route parameter, else an id the request names (the client id asked
    // for, the jti revoked, the user tokens are issued for), else — below — the id in the answer
    // (a created user's oid, an API key's id, a rotated key's kid); a name only when no id.
    const targetParam = TARGET_PARAMS.find((p) => params[p] !== undefined);
    const base = {
      request,
      action: spec.actionFor?.(request.body) ?? spec.action,
      target: targetParam ? params[targetParam] : fieldOf(request.body, ID_FIELDS),
    };
    let before: unknown;
    const loadBefore = async () => {
      if (!spec.before || base.target === undefined) return;
      const controller = this.moduleRef.get(context.getClass(), { strict: false }) as Record<
        string,
        (id: string) => unknown
      >;
      before = await Promise.resolve(controller[spec.before]?.(base.target)).catch(() => undefined);
    };
    // Awaited, so the event is stored before the answer leaves.
    return from(loadBefore()).pipe(
      concatMap(() => next.handle()),
      concatMap(async (value: unknown) => {
        await this.audit.recordDurably({
          ...base,
          ...actorOf(request),
          target:
            base.target ??
            notedTarget(request) ??
            fieldOf(value, ID_FIELDS) ??
            fieldOf(request.body, NAME_FIELDS) ??
            fieldOf(value, NAME_FIELDS),
          outcome: 'success',
          details: {
            ...changes(spec.before !== undefined, before, value, request.body),
            ...spec.details?.(request.body),
            ...notedDetails(request),
          },
        });
        return value;
      }),
      catchError(async (error: unknown) => {
        const actor = actorOf(request);
        if (spec.authenticatedFailuresOnly && actor.actor === undefined) throw error;
        // What the caller was told (status, problem code and detail), never a stack.
        const { status, code, error: detail } = answerOf(error);
        await this.audit.recordDurably({
          ...base,
          ...actor,
          target: base.target ?? notedTarget(request) ?? fieldOf(request.body, NAME_FIELDS),
          outcome: 'failure',
          details: { status, code, error: detail, ...spec.details?.(request.body) },
        });
        throw error;
      }),
    );
  }
}

/**
 * Before/after of what changed (see {@link beforeAfter}). An update (a handler with a `before`
 * loader whose answer is the same object) also lists the names of the fields it `changed`: the
 * non-secret ones that differ, and the secret ones the request set (a password: its name only,
 * never its value or hash — the views hold neither, so before/after alone would show nothing).
 */
function changes(
  loaded: boolean,
  before: unknown,
  after: unknown,
  body: unknown,
): Record<string, unknown> {
  const diff = beforeAfter(before, after, (b, a) => idOf(a) === idOf(b));
  if (!loaded || !diff.before || !diff.after) return diff;
  const secrets =
    body !== null && typeof body === 'object'
      ? Object.keys(body).filter(
          (key) => isSecretKey(key) && (body as Record<string, unknown>)[key] !== undefined,
        )
      : [];
  return { ...diff, changed: [...Object.keys(diff.after), ...secrets] };
}

/** The first of `fields` that is a string in a body or a response, at most 200 characters. */
function fieldOf(value: unknown, fields: readonly string[]): string | undefined {
  if (value === null || typeof value !== 'object') return undefined;
  const record = value as Record<string, unknown>;
  const found = fields.map((k) => record[k]).find((v) => typeof v === 'string');
  return typeof found === 'string' ? found.slice(0, 200) : undefined;
}

/** The id of what was created or changed (`id`, `oid`, `kid`…; a role's `name`). */
function idOf(value: unknown): string | undefined {
  return fieldOf(value, ID_FIELDS) ?? fieldOf(value, ['name']);
}
