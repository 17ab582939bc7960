/**
 * A small keep-alive HTTP/1.1 load generator, run as a child process so it does not share the
 * server's event loop. Raw sockets and hand-written requests (node:http's client costs more CPU
 * than the servers being measured). Each connection sends one request, waits for the whole
 * response (Content-Length), then sends the next: closed-loop, like autocannon without pipelining.
 */
import { connect, Socket } from 'node:net';

export interface LoadJob {
  port: number;
  method: 'GET' | 'POST';
  path: string;
  body?: string;
  /** One extra header block per request, taken round-robin (e.g. distinct bearer tokens). */
  headers: string[];
  connections: number;
  /** Run for this long, or until `requests` have been sent. */
  durationMs?: number;
  requests?: number;
}

export interface LoadResult {
  requests: number;
  seconds: number;
  rps: number;
  statuses: Record<string, number>;
}

export function runLoad(job: LoadJob): Promise<LoadResult> {
  const body = job.body ?? '';
  const head =
    `${job.method} ${job.path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: keep-alive\r\n` +
    (body
      ? `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n`
      : '');
  const requests = job.headers.map((h) => Buffer.from(`${head}${h ? h + '\r\n' : ''}\r\n${body}`));
  if (requests.length === 0) requests.push(Buffer.from(`${head}\r\n${body}`));
  const statuses: Record<string, number> = {};
  let next = 0;
  let done = 0;
  const started = process.hrtime.bigint();
  const deadline = job.durationMs ? Date.now() + job.durationMs : Infinity;
  const limit = job.requests ?? Infinity;

  return new Promise((resolve, reject) => {
    let open = job.connections;
    const finish = () => {
      if (--open > 0) return;
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      resolve({ requests: done, seconds, rps: done / seconds, statuses });
    };
    let failed = false;
    for (let c = 0; c < job.connections; c++) {
      const socket: Socket = connect(job.port, '127.0.0.1');
      socket.setNoDelay(true);
      let buffer = Buffer.alloc(0);
      const send = () => {
        if (next >= limit || Date.now() >= deadline) {
          socket.end();
          finish();
          return;
        }
        socket.write(requests[next++ % requests.length]);
      };
      socket.on('connect', send);
      socket.on('error', (error) => {
        if (!failed) reject(error);
        failed = true;
      });
      socket.on('data', (chunk) => {
        buffer = buffer.length ? Buffer.concat([buffer, chunk]) : chunk;
        for (;;) {
          const end = buffer.indexOf('\r\n\r\n');
          if (end < 0) return;
          const headers = buffer.subarray(0, end).toString('latin1');
          const match = /\r\ncontent-length:\s*(\d+)/i.exec(headers);
          const length = match ? Number(match[1]) : 0;
          if (buffer.length < end + 4 + length) return;
          const status = headers.slice(9, 12);
          statuses[status] = (statuses[status] ?? 0) + 1;
          done++;
          buffer = buffer.subarray(end + 4 + length);
          send();
        }
      });
    }
  });
}

// As a child process: receive one job, answer with its result.
if (require.main === module) {
  process.on('message', (job: LoadJob) => {
    runLoad(job).then(
      (result) => process.send?.(result),
      (error: Error) => process.send?.({ error: error.message }),
    );
  });
}
