import { describe, expect, it } from 'vitest';
import { EMPTY_LIMITS, limitsBody, limitsFrom } from './common';

describe('models and limits in forms', () => {
  it('sends nothing when nothing is filled in (older servers ignore unknown fields anyway)', () => {
    expect(limitsBody(EMPTY_LIMITS)).toEqual({});
    expect(limitsBody({ models: ' , ', rate_limit: ' ', token_limit: '', budget: '' })).toEqual({});
  });

  it('sends each field that is set, the models as a list', () => {
    expect(
      limitsBody({
        models: 'llama-*, tessera-echo',
        rate_limit: '100/minute',
        token_limit: '',
        budget: '5/month',
      }),
    ).toEqual({ models: ['llama-*', 'tessera-echo'], rate_limit: '100/minute', budget: '5/month' });
  });

  it('clears, when editing, a field that was set and is now empty', () => {
    const before = { models: 'a', rate_limit: '10/minute', token_limit: '', budget: '5/month' };
    expect(limitsBody({ ...EMPTY_LIMITS, budget: '6/month' }, before)).toEqual({
      models: null,
      rate_limit: null,
      budget: '6/month',
    });
  });

  it('reads them back from a client or key as the API returns it', () => {
    expect(limitsFrom({ id: 'c', models: ['a', 'b'], rate_limit: '10/second', budget: 5 })).toEqual(
      {
        models: 'a, b',
        rate_limit: '10/second',
        token_limit: '',
        budget: '5',
      },
    );
  });
});
