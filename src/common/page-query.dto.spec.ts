import { plainToInstance } from 'class-transformer';
import { validateSync } from 'class-validator';
import { PageQueryDto, parsePageLimit } from './page-query.dto';

describe('page limit', () => {
  it('accepts decimal digits without a leading zero, from 1 to 500', () => {
    expect(parsePageLimit('1')).toBe(1);
    expect(parsePageLimit('50')).toBe(50);
    expect(parsePageLimit('500')).toBe(500);
  });

  it.each([
    '0',
    '501',
    '1000',
    '0x10',
    '1e2',
    ' 10',
    '10 ',
    '010',
    '5.0',
    '1.5',
    '+5',
    '-1',
    '',
    'abc',
  ])('refuses %j', (value) => {
    expect(parsePageLimit(value)).toBeUndefined();
    const sut = plainToInstance(PageQueryDto, { limit: value });
    const errors = validateSync(sut);
    expect(errors.map((e) => Object.values(e.constraints ?? {})).flat()).toEqual([
      'limit must be a whole number from 1 to 500',
    ]);
  });

  it('turns a valid query value into a number', () => {
    const sut = plainToInstance(PageQueryDto, { limit: '20' });
    expect(sut.limit).toBe(20);
    expect(validateSync(sut)).toEqual([]);
  });
});
