import { checkGatewayGrant, parseAmountLimit, windowOf } from './usage-limits';
import { ValidationFailedError } from '../../common/errors';

describe('usage limits', () => {
  it('parses token limits (whole numbers) and budgets (dollars with cents)', () => {
    expect(parseAmountLimit('200000/minute', false)).toEqual({
      amount: 200000,
      window: 'minute',
      text: '200000/minute',
    });
    expect(parseAmountLimit('5.50 / months', true)).toMatchObject({ amount: 5.5, window: 'month' });
    expect(parseAmountLimit('5.5/day', false)).toBeUndefined();
    expect(parseAmountLimit('0/day', false)).toBeUndefined();
    expect(parseAmountLimit('10/week', false)).toBeUndefined();
    expect(parseAmountLimit(10, false)).toBeUndefined();
  });

  it('puts a moment in fixed UTC windows, months by the calendar', () => {
    const now = Date.UTC(2026, 10, 25, 8, 30, 15);
    expect(windowOf('minute', now).resetAt).toBe(Date.UTC(2026, 10, 25, 8, 31));
    expect(windowOf('day', now).resetAt).toBe(Date.UTC(2026, 10, 26));
    expect(windowOf('month', now)).toEqual({
      key: `m${Date.UTC(2026, 10, 1)}`,
      resetAt: Date.UTC(2026, 11, 1),
    });
    expect(windowOf('month', Date.UTC(2026, 11, 31, 23)).resetAt).toBe(Date.UTC(2027, 0, 1));
  });

  it('checks a grant, naming the bad field', () => {
    expect(
      checkGatewayGrant({ models: ['llama-*'], budget: '5/month', token_limit: null }),
    ).toEqual({ models: ['llama-*'], budget: '5/month' });
    const bad = (() => {
      try {
        checkGatewayGrant({ token_limit: '1.5/day' });
      } catch (error) {
        return error as ValidationFailedError;
      }
    })();
    expect(bad).toBeInstanceOf(ValidationFailedError);
    expect(bad?.param).toBe('token_limit');
    expect(() => checkGatewayGrant({ models: ['a b'] })).toThrow(/models must be a list/);
  });
});
