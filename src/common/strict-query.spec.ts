import { ExportAuditDto, ListAuditDto } from '../audit/dto/list-audit.dto';
import { ValidationFailedError } from './errors';
import { ValidationError } from 'class-validator';
import { checkQuery, NoQueryParameters, declaredFields, unknownField } from './strict-query';

describe('strict query parameters', () => {
  const list = declaredFields(ListAuditDto);
  const exported = declaredFields(ExportAuditDto);

  it('knows the documented parameters of each DTO, inherited ones too', () => {
    expect([...list].sort()).toEqual([
      'action',
      'actor',
      'cursor',
      'limit',
      'outcome',
      'request_id',
      'since',
      'target',
      'until',
    ]);
    expect([...exported].sort()).toEqual([
      'action',
      'actor',
      'outcome',
      'request_id',
      'since',
      'target',
      'until',
    ]);
  });

  it('accepts known parameters given once', () => {
    expect(() => checkQuery({ action: 'token.*', limit: '5', cursor: 'x' }, list)).not.toThrow();
    expect(() => checkQuery({}, exported)).not.toThrow();
  });

  it('refuses an unknown parameter, naming it', () => {
    expect(() => checkQuery({ outcom: 'failure' }, list)).toThrow(
      new ValidationFailedError(
        'unknown query parameter "outcom" (this endpoint takes action, actor, target, request_id, outcome, since, until, cursor, limit)',
      ),
    );
    expect(() => checkQuery({ limit: '10' }, exported)).toThrow(/unknown query parameter "limit"/);
    expect(() => checkQuery({ cursor: 'x' }, exported)).toThrow(/unknown query parameter "cursor"/);
  });

  it('refuses a parameter given more than once', () => {
    expect(() => checkQuery({ action: ['a', 'b'] }, list)).toThrow('action must be given once');
  });

  it('refuses any parameter on a route that takes none', () => {
    expect(declaredFields(NoQueryParameters)).toEqual([]);
    expect(() => checkQuery({ x: '1' }, [])).toThrow(
      new ValidationFailedError('unknown query parameter "x" (this endpoint takes none)'),
    );
    expect(() => checkQuery({}, [])).not.toThrow();
  });
});

describe('unknown body fields', () => {
  it('names the field, and the declared one it resembles', () => {
    const target = Object.assign(new ExportAuditDto(), { requestid: 'x' });
    const error = Object.assign(new ValidationError(), { target, property: 'Request-ID' });
    expect(unknownField(error)).toBe('unknown field "Request-ID"');
    expect(
      unknownField(Object.assign(new ValidationError(), { target, property: 'REQUEST_ID' })),
    ).toBe('unknown field "REQUEST_ID" (did you mean request_id?)');
    expect(
      unknownField(Object.assign(new ValidationError(), { target, property: 'x'.repeat(300) })),
    ).toBe(`unknown field "${'x'.repeat(100)}"`);
  });
});
