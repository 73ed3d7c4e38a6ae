// A minimal closed-loop HTTP/1.1 load generator for the benchmark: every request is a pre-built
// Buffer (request line, headers and body), so the timed part does no JSON or header building and
// the generator's own CPU cost stays far below the servers'. Loopback only; bounded by duration and
// by the number of prepared requests (each sent at most once when `once` is set).
import { connect, type Socket } from 'node:net';

export interface LoadResult {
  requests: number;
  reqPerSec: number;
  p99Ms: number;
  non2xx: number;
  errors: number;
  /** True when `once` was set and the prepared requests ran out before the duration. */
  exhausted: boolean;
}

/** One HTTP/1.1 POST as raw bytes. */
export function rawPost(url: string, path: string, body: string, headers: Record<string, string> = {}): Buffer {
  const { host } = new URL(url);
  const bytes = Buffer.from(body);
  const lines = [`POST ${path} HTTP/1.1`, `host: ${host}`, 'content-type: application/json', `content-length: ${bytes.length}`];
  for (const [name, value] of Object.entries(headers)) lines.push(`${name}: ${value}`);
  return Buffer.concat([Buffer.from(`${lines.join('\r\n')}\r\n\r\n`), bytes]);
}

const HEAD_END = Buffer.from('\r\n\r\n');
const CHUNKED_END = Buffer.from('\r\n0\r\n\r\n');

/**
 * `connections` sockets each send one request, wait for its whole answer, send the next.
 * Requests are taken round-robin from `requests` (`once`: each at most once, then the run stops).
 */
export async function load(url: string, requests: Buffer[], options: { connections: number; seconds: number; once?: boolean }): Promise<LoadResult> {
  const { hostname, port } = new URL(url);
  const latencies: number[] = [];
  let next = 0;
  let non2xx = 0;
  let errors = 0;
  let exhausted = false;
  const started = performance.now();
  const deadline = started + options.seconds * 1000;

  const take = (): Buffer | undefined => {
    if (next >= requests.length) {
      if (options.once) {
        exhausted = true;
        return undefined;
      }
      next = 0;
    }
    return requests[next++];
  };

  const runConnection = () =>
    new Promise<void>((resolve) => {
      const socket: Socket = connect({ host: hostname, port: Number(port) });
      socket.setNoDelay(true);
      let buffered: Buffer = Buffer.alloc(0);
      let sentAt = 0;
      const finish = () => {
        socket.destroy();
        resolve();
      };
      const send = () => {
        const request = performance.now() < deadline ? take() : undefined;
        if (!request) return finish();
        sentAt = performance.now();
        socket.write(request);
      };
      socket.on('connect', send);
      socket.on('error', () => {
        errors++;
        finish();
      });
      socket.on('data', (chunk: Buffer) => {
        buffered = buffered.length ? Buffer.concat([buffered, chunk]) : chunk;
        const headEnd = buffered.indexOf(HEAD_END);
        if (headEnd < 0) return;
        const head = buffered.subarray(0, headEnd).toString('latin1');
        const length = /\r\ncontent-length:\s*(\d+)/i.exec(head);
        let end: number;
        if (length) {
          end = headEnd + 4 + Number(length[1]);
          if (buffered.length < end) return;
        } else {
          const chunkedEnd = buffered.indexOf(CHUNKED_END, headEnd);
          if (chunkedEnd < 0) return;
          end = chunkedEnd + CHUNKED_END.length;
        }
        const status = Number(head.slice(9, 12));
        if (status < 200 || status >= 300) non2xx++;
        latencies.push(performance.now() - sentAt);
        buffered = buffered.subarray(end);
        send();
      });
    });

  await Promise.all(Array.from({ length: options.connections }, runConnection));
  const seconds = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  return {
    requests: latencies.length,
    reqPerSec: latencies.length / seconds,
    p99Ms: latencies.length ? latencies[Math.min(latencies.length - 1, Math.ceil(0.99 * latencies.length) - 1)]! : 0,
    non2xx,
    errors,
    exhausted,
  };
}
