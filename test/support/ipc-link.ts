import type { Worker } from 'node:cluster';
import { EventEmitter } from 'node:events';
import type { IpcChannel } from '../../src/common/ipc-channel';

/**
 * A cluster worker's `process` and the primary's `Worker` for it, joined in memory the way node's
 * IPC joins them (messages copied through JSON, delivered on a later tick). `serve` wires the
 * primary's side (serveRateLimits, serveUsageLimits); `sent` records the worker's messages.
 */
export function ipcLink(serve: (worker: Worker) => void) {
  const toWorker = new EventEmitter();
  const toPrimary = new EventEmitter();
  const sent: unknown[] = [];
  const channel = Object.assign(toWorker, {
    connected: true,
    send(message: unknown, callback?: (error: Error | null) => void) {
      sent.push(message);
      setImmediate(() => toPrimary.emit('message', JSON.parse(JSON.stringify(message))));
      callback?.(null);
      return true;
    },
  });
  const worker = Object.assign(toPrimary, {
    isConnected: () => channel.connected,
    send(message: unknown) {
      setImmediate(() => toWorker.emit('message', JSON.parse(JSON.stringify(message))));
      return true;
    },
  });
  serve(worker as unknown as Worker);
  return { channel: channel as unknown as IpcChannel & EventEmitter, sent };
}
