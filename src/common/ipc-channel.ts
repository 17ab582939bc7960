/**
 * A cluster worker's end of the IPC channel to the primary (`process` in a worker): what the
 * memory rate limiter and the token-limit counters ask the primary over (WORKERS > 1).
 */
export interface IpcChannel {
  connected: boolean;
  send?(message: unknown, callback?: (error: Error | null) => void): boolean;
  on(event: 'message', listener: (message: unknown) => void): unknown;
  on(event: 'disconnect', listener: () => void): unknown;
}
