import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ReceivedSpan {
  traceId: string;
  spanId: string;
  parentSpanId: string;
  name: string;
  kind: number;
  attributes: Record<string, string | number | boolean>;
  status: { code?: number };
  resource: Record<string, string | number | boolean>;
}

export interface OtlpReceiver {
  url: string;
  spans: ReceivedSpan[];
  /** Every export request: content type and raw body. */
  requests: Array<{ path: string; contentType: string; body: Buffer }>;
  close(): Promise<void>;
}

type AnyValue = { stringValue?: string; intValue?: string | number; boolValue?: boolean; doubleValue?: number };
const value = (v: AnyValue) => v.stringValue ?? (v.intValue !== undefined ? Number(v.intValue) : (v.boolValue ?? v.doubleValue ?? ''));
const attributes = (list: Array<{ key: string; value: AnyValue }> = []) => Object.fromEntries(list.map((a) => [a.key, value(a.value)]));

async function read(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > 16 * 1024 * 1024) throw new Error('export too large');
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

/** An OTLP/HTTP trace receiver on loopback: decodes http/json exports, keeps protobuf ones raw. */
export async function startOtlpReceiver(): Promise<OtlpReceiver> {
  const spans: ReceivedSpan[] = [];
  const requests: OtlpReceiver['requests'] = [];
  const server = createServer((req, res) => {
    read(req).then(
      (body) => {
        const contentType = req.headers['content-type'] ?? '';
        requests.push({ path: req.url ?? '', contentType, body });
        if (contentType.includes('json')) {
          const parsed = JSON.parse(body.toString('utf8')) as {
            resourceSpans: Array<{ resource?: { attributes?: Array<{ key: string; value: AnyValue }> }; scopeSpans: Array<{ spans: Array<Record<string, unknown>> }> }>;
          };
          for (const rs of parsed.resourceSpans) {
            for (const ss of rs.scopeSpans) {
              for (const s of ss.spans) {
                spans.push({
                  traceId: String(s.traceId),
                  spanId: String(s.spanId),
                  parentSpanId: String(s.parentSpanId ?? ''),
                  name: String(s.name),
                  kind: Number(s.kind),
                  attributes: attributes(s.attributes as Array<{ key: string; value: AnyValue }>),
                  status: (s.status as { code?: number }) ?? {},
                  resource: attributes(rs.resource?.attributes),
                });
              }
            }
          }
        }
        res.writeHead(200, { 'content-type': contentType.includes('json') ? 'application/json' : 'application/x-protobuf' });
        res.end(contentType.includes('json') ? '{}' : '');
      },
      () => {
        res.writeHead(400);
        res.end();
      },
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    spans,
    requests,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/** The spans of one trace as an indented tree: name and attributes, children in start order. */
export function renderTree(spans: ReceivedSpan[], rootParent: string): string {
  const lines: string[] = [];
  const walk = (parent: string, depth: number) => {
    for (const span of spans.filter((s) => s.parentSpanId === parent)) {
      const attrs = Object.entries(span.attributes).map(([k, v]) => `${k}=${v}`).join(' ');
      lines.push(`${'  '.repeat(depth)}${span.name} [${['internal', 'internal', 'server', 'client'][span.kind] ?? span.kind}] ${attrs}`);
      walk(span.spanId, depth + 1);
    }
  };
  walk(rootParent, 0);
  return lines.join('\n');
}
