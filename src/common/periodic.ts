/** A repeating background job; `stop()` cancels it. */
export interface PeriodicJob {
  stop(): void;
}

/**
 * Runs `task` every `ms` milliseconds (maintenance, purges, batched writes). The timer never keeps
 * the process alive, and a failing run is handed to `onError`, never thrown into the event loop.
 */
export function every(
  ms: number,
  task: () => unknown,
  onError: (error: Error) => void,
): PeriodicJob {
  const timer = setInterval(() => {
    Promise.resolve()
      .then(task)
      .catch((error: unknown) =>
        onError(error instanceof Error ? error : new Error(String(error))),
      );
  }, ms);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
