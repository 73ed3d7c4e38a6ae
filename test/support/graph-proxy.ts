import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One upstream exchange as the proxy sees it. */
export interface ProxiedRequest {
  method: string;
  path: string;
  body: string;
}

export interface ProxiedAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** Rewrites an exchange: call `forward()` for the simulator's answer, or answer alone. */
export type Rewrite = (request: ProxiedRequest, forward: () => Promise<ProxiedAnswer>) => Promise<ProxiedAnswer>;

export interface GraphProxy {
  url: string;
  /** Requests handled since the last reset. */
  calls: ProxiedRequest[];
  /** Most requests in flight at once since the last reset. */
  peak: number;
  rewrite: Rewrite | undefined;
  reset(): void;
  close(): Promise<void>;
}

const FORWARDED_HEADERS = ['content-type', 'x-app-usage', 'x-business-use-case-usage', 'retry-after', 'www-authenticate'];

/**
 * A loopback proxy in front of the simulator: it counts concurrent upstream requests and lets a test
 * corrupt Meta's answers (reorder a batch, inject a 500, grow a field) without changing the simulator.
 */
export async function startGraphProxy(target: string): Promise<GraphProxy> {
  let inFlight = 0;
  const proxy: GraphProxy = {
    url: '',
    calls: [],
    peak: 0,
    rewrite: undefined,
    reset() {
      proxy.calls = [];
      proxy.peak = inFlight;
    },
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
  const server = createServer((req, res) => {
    inFlight++;
    proxy.peak = Math.max(proxy.peak, inFlight);
    void (async () => {
      const request: ProxiedRequest = { method: req.method ?? 'GET', path: req.url ?? '/', body: await readBody(req) };
      proxy.calls.push(request);
      const forward = () => forwardTo(target, req, request);
      const answer = proxy.rewrite ? await proxy.rewrite(request, forward) : await forward();
      res.writeHead(answer.status, answer.headers).end(answer.body);
    })()
      .catch(() => res.writeHead(599).end())
      .finally(() => inFlight--);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  proxy.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return proxy;
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

async function forwardTo(target: string, req: IncomingMessage, request: ProxiedRequest): Promise<ProxiedAnswer> {
  const headers: Record<string, string> = {};
  for (const name of ['authorization', 'content-type']) {
    const value = req.headers[name];
    if (typeof value === 'string') headers[name] = value;
  }
  const response = await fetch(`${target}${request.path}`, {
    method: request.method,
    headers,
    ...(request.method === 'GET' ? {} : { body: request.body }),
  });
  const answerHeaders: Record<string, string> = {};
  for (const name of FORWARDED_HEADERS) {
    const value = response.headers.get(name);
    if (value !== null) answerHeaders[name] = value;
  }
  return { status: response.status, headers: answerHeaders, body: await response.text() };
}
