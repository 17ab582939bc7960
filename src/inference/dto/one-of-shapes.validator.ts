import { registerDecorator, ValidationOptions } from 'class-validator';

type Shape = 'string' | 'string[]' | 'number[]' | 'number[][]' | 'object[]' | 'null';

function matches(value: unknown, shape: Shape): boolean {
  switch (shape) {
    case 'string':
      return typeof value === 'string';
    case 'null':
      return value === null;
    case 'string[]':
      return Array.isArray(value) && value.every((v) => typeof v === 'string');
    case 'number[]':
      return Array.isArray(value) && value.every((v) => typeof v === 'number');
    case 'number[][]':
      return (
        Array.isArray(value) &&
        value.every((v) => Array.isArray(v) && v.every((n) => typeof n === 'number'))
      );
    case 'object[]':
      return Array.isArray(value) && value.every((v) => v !== null && typeof v === 'object');
  }
}

/**
 * The OpenAI API's union-typed fields (`content`: a string or an array of parts; `input`: a
 * string, strings or token arrays): the value must have one of the given shapes.
 */
export function IsOneOfShapes(shapes: Shape[], options?: ValidationOptions) {
  return (target: object, propertyName: string) =>
    registerDecorator({
      name: 'isOneOfShapes',
      target: target.constructor,
      propertyName,
      options: {
        message: `${propertyName} must be ${shapes
          .map((s) => (s === 'null' ? 'null' : `a ${s.replace(/\[\]/g, ' array')}`))
          .join(' or ')}`,
        ...options,
      },
      validator: { validate: (value: unknown) => shapes.some((s) => matches(value, s)) },
    });
}
