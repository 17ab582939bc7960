import { every } from './periodic';

describe('every', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  it('runs the task each period until stopped', async () => {
    const task = jest.fn();
    const sut = every(1000, task, () => undefined);
    await jest.advanceTimersByTimeAsync(3000);
    expect(task).toHaveBeenCalledTimes(3);
    sut.stop();
    await jest.advanceTimersByTimeAsync(3000);
    expect(task).toHaveBeenCalledTimes(3);
  });

  it('hands a failing run (thrown or rejected) to onError and keeps going', async () => {
    const errors: string[] = [];
    let run = 0;
    const sut = every(
      1000,
      () => {
        run += 1;
        if (run === 1) throw new Error('sync failure');
        if (run === 2) return Promise.reject(new Error('async failure'));
        return undefined;
      },
      (e) => errors.push(e.message),
    );
    await jest.advanceTimersByTimeAsync(3000);
    expect(errors).toEqual(['sync failure', 'async failure']);
    expect(run).toBe(3);
    sut.stop();
  });
});
