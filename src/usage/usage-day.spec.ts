import { utcDay } from './usage.service';

describe('utcDay', () => {
  it('is the UTC date of the instant, across midnight and when the clock goes back', () => {
    const midnight = Date.parse('2026-11-26T00:00:00.000Z');
    expect(utcDay(midnight - 1)).toBe('2026-11-25');
    expect(utcDay(midnight)).toBe('2026-11-26');
    expect(utcDay(midnight + 86_399_999)).toBe('2026-11-26');
    expect(utcDay(midnight + 86_400_000)).toBe('2026-11-27');
    expect(utcDay(midnight - 1)).toBe('2026-11-25');
    for (let i = 0; i < 1000; i++) {
      const t = midnight + Math.floor((Math.random() - 0.5) * 20 * 86_400_000);
      expect(utcDay(t)).toBe(new Date(t).toISOString().slice(0, 10));
    }
  });
});
