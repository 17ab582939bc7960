import { ArgumentMetadata, Type, ValidationPipe } from '@nestjs/common';
import { getMetadataStorage, type ValidationError } from 'class-validator';
import { ValidationFailedError } from './errors';

/**
 * The global validation pipe, strict about query strings: a query parameter that the handler's
 * query DTO does not declare is a 400 naming it (a typo such as `outcom=failure` would otherwise
 * be dropped by the whitelist, widening the query: `limit` on the audit export made it a full
 * export), and so is one given more than once. Every `@Query()` DTO gets this without a
 * decorator of its own (a body field the DTO does not declare is refused by the pipe's own
 * `forbidNonWhitelisted`, see bootstrap.ts). No extra step per request: the check is one
 * comparison for every other parameter, and the parent's promise is returned as it is.
 */
export class StrictQueryValidationPipe extends ValidationPipe {
  override transform(value: unknown, metadata: ArgumentMetadata): Promise<unknown> {
    if (metadata.type === 'query' && metadata.data === undefined && metadata.metatype) {
      const known = declaredFields(metadata.metatype);
      if (
        (known.length > 0 || metadata.metatype === NoQueryParameters) &&
        value !== null &&
        typeof value === 'object'
      )
        checkQuery(value as Record<string, unknown>, known);
    }
    return super.transform(value, metadata);
  }
}

/**
 * `@Query() _query: NoQueryParameters` on a route that takes none: any query parameter is then
 * a 400, as an unknown one is on the listings (`GET /admin/audit/verify?x=1` answered 200).
 */
export class NoQueryParameters {}

const parametersOf = new WeakMap<Type<unknown>, readonly string[]>();

/** A DTO's declared fields (those with a validator), inherited ones too; worked out once per DTO (query and body alike). */
export function declaredFields(dto: Type<unknown>): readonly string[] {
  let known = parametersOf.get(dto);
  if (known === undefined) {
    known = [
      ...new Set(
        getMetadataStorage()
          .getTargetValidationMetadatas(dto, '', true, false)
          .map((m) => m.propertyName),
      ),
    ];
    parametersOf.set(dto, known);
  }
  return known;
}

export function checkQuery(query: Record<string, unknown>, known: readonly string[]): void {
  for (const [name, value] of Object.entries(query)) {
    if (!known.includes(name))
      throw new ValidationFailedError(
        `unknown query parameter "${name.slice(0, 100)}" (this endpoint takes ${known.length > 0 ? known.join(', ') : 'none'})`,
        name.slice(0, 100),
      );
    if (Array.isArray(value)) throw new ValidationFailedError(`${name} must be given once`, name);
  }
}

/**
 * `unknown field "grant_types" (did you mean grantTypes?)`: the field, and the declared one it
 * resembles (same letters, ignoring case and `_`), if any. The name is cut to 100 characters.
 */
export function unknownField(error: ValidationError): string {
  const name = error.property.slice(0, 100);
  const known =
    error.target && typeof error.target === 'object'
      ? declaredFields(error.target.constructor as Type<unknown>)
      : [];
  const squash = (field: string) => field.replace(/_/g, '').toLowerCase();
  const meant = known.find((field) => squash(field) === squash(name));
  return `unknown field "${name}"${meant ? ` (did you mean ${meant}?)` : ''}`;
}
