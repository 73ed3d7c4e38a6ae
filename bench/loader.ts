// A minimal closed-loop HTTP/1.1 load generator for the benchmark: every request is a pre-built
// Buffer (request line, headers and body), so the timed part does no JSON or header building and
// the generator's own CPU cost stays far below the servers'. Loopback only; bounded by duration and
// by the number of prepared requests (each sent at most once when `once` is set).
import { connect, type Socket } from 'node:net';

export interface LoadResult {
  requests: number;
  reqPerSec: number;
  p50Ms: number;
  p99Ms: number;
  /** Answers with a status outside 2xx, or whose body `bodyOk` refused. */
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
/** An answer still missing this long after the run's deadline is given up: the socket closes, an error. */
const ANSWER_GRACE_MS = 10_000;
const CHUNKED_END = Buffer.from('\r\n0\r\n\r\n');

export interface LoadOptions {
  connections: number;
  seconds: number;
  /** Each prepared request at most once, then the run stops. */
  once?: boolean;
  /** No request leaves before every connection is open: a burst of that many clients at once. */
  together?: boolean;
  /** Checks each answer's body (a GraphQL error in a 200, say); a refused one counts in `non2xx`. */
  bodyOk?: (body: Buffer) => boolean;
}

/**
 * `connections` sockets each send one request, wait for its whole answer, send the next.
 * Requests are taken round-robin from `requests` (`once`: each at most once, then the run stops).
 */
export async function load(url: string, requests: Buffer[], options: LoadOptions): Promise<LoadResult> {
  const { hostname, port } = new URL(url);
  const latencies: number[] = [];
  let next = 0;
  let non2xx = 0;
  let errors = 0;
  let exhausted = false;
  const started = performance.now();
  const deadline = started + options.seconds * 1000;
  // `together`: every connection open (or failed) before the first request, or the deadline.
  let open = 0;
  let allOpen: () => void = () => undefined;
  const opened = new Promise<void>((resolve) => (allOpen = resolve));
  const openTimer = setTimeout(allOpen, options.seconds * 1000);
  const counted = () => {
    if (++open === options.connections) allOpen();
  };
  const sockets = new Set<Socket>();
  const giveUp = setTimeout(() => {
    for (const socket of sockets) socket.destroy(new Error('no answer'));
  }, options.seconds * 1000 + ANSWER_GRACE_MS);

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
      sockets.add(socket);
      let buffered: Buffer = Buffer.alloc(0);
      let sentAt = 0;
      let connected = false;
      let finished = false;
      const finish = () => {
        finished = true;
        sockets.delete(socket);
        socket.destroy();
        resolve();
      };
      const send = () => {
        const request = performance.now() < deadline ? take() : undefined;
        if (!request) return finish();
        sentAt = performance.now();
        socket.write(request);
      };
      socket.on('connect', () => {
        connected = true;
        if (!options.together) return send();
        counted();
        void opened.then(send);
      });
      socket.on('error', () => {
        errors++;
        if (!connected && options.together) counted();
        finish();
      });
      // Closed by the server before the run was done with it: an error, never a wait without end.
      socket.on('close', () => {
        if (finished) return;
        errors++;
        if (!connected && options.together) counted();
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
        if (status < 200 || status >= 300 || (options.bodyOk && !options.bodyOk(buffered.subarray(headEnd + 4, end)))) non2xx++;
        latencies.push(performance.now() - sentAt);
        buffered = buffered.subarray(end);
        send();
      });
    });

  await Promise.all(Array.from({ length: options.connections }, runConnection));
  clearTimeout(openTimer);
  clearTimeout(giveUp);
  const seconds = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  const percentile = (p: number) => (latencies.length ? latencies[Math.min(latencies.length - 1, Math.ceil(p * latencies.length) - 1)]! : 0);
  return {
    requests: latencies.length,
    reqPerSec: latencies.length / seconds,
    p50Ms: percentile(0.5),
    p99Ms: percentile(0.99),
    non2xx,
    errors,
    exhausted,
  };
}
