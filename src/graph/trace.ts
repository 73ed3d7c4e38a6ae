import { SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';

/** What the round-trip span knows of a call before it is sent. */
export interface RoundTripInfo {
  /** The kind of call (`batch`, `single`, `ids`, `me`, `refresh`). */
  kind: string;
  url: string;
  init: RequestInit;
  /** The business account, when the client knows it. */
  accountId: string | undefined;
}

/**
 * One CLIENT span per HTTP round trip to Graph: account, strategy (kind of call), how many ids,
 * HTTP status and Graph error code. With tracing off the API is a no-op and nothing is computed.
 * Never an attribute from the token, the proof or the query string.
 */
export async function traceRoundTrip<T extends { status: number; body: unknown }>(info: RoundTripInfo, run: () => Promise<T>): Promise<T> {
  const tracer = trace.getTracer('ig-profile-gateway');
  return tracer.startActiveSpan(`graph ${info.kind}`, { kind: SpanKind.CLIENT }, async (span) => {
    if (span.isRecording()) {
      const url = new URL(info.url);
      span.setAttributes({
        'http.request.method': info.init.method ?? 'GET',
        'server.address': url.hostname,
        'url.path': url.pathname,
        'instagram.strategy': info.kind,
        'instagram.ids.count': idsCount(info.kind, url, info.init.body),
        ...(info.accountId ? { 'instagram.account.id': info.accountId } : {}),
      });
    }
    try {
      const answer = await run();
      span.setAttribute('http.response.status_code', answer.status);
      const code = graphErrorCode(answer.body);
      if (code !== undefined) span.setAttribute('instagram.graph.error_code', code);
      if (answer.status >= 400) span.setStatus({ code: SpanStatusCode.ERROR });
      return answer;
    } catch (error) {
      span.setAttribute('error.type', (error as { reason?: unknown }).reason === undefined ? 'error' : String((error as { reason: unknown }).reason));
      span.setStatus({ code: SpanStatusCode.ERROR });
      throw error;
    } finally {
      span.end();
    }
  });
}

function idsCount(kind: string, url: URL, body: RequestInit['body']): number {
  if (kind === 'single') return 1;
  if (kind === 'ids') return (url.searchParams.get('ids') ?? '').split(',').filter(Boolean).length;
  if (kind === 'batch' && body instanceof URLSearchParams) {
    try {
      const parts: unknown = JSON.parse(body.get('batch') ?? '[]');
      return Array.isArray(parts) ? parts.length : 0;
    } catch {
      return 0;
    }
  }
  return 0;
}

/** Graph's `error.code`, or for a Batch answer the first failing element's. */
function graphErrorCode(body: unknown): number | undefined {
  const direct = (body as { error?: { code?: unknown } } | null)?.error?.code;
  if (typeof direct === 'number') return direct;
  if (!Array.isArray(body)) return undefined;
  for (const element of body as Array<{ code?: unknown; body?: unknown } | null>) {
    if (!element || element.code === 200 || typeof element.body !== 'string') continue;
    try {
      const code = (JSON.parse(element.body) as { error?: { code?: unknown } }).error?.code;
      if (typeof code === 'number') return code;
    } catch {
      // not JSON: no code to report
    }
  }
  return undefined;
}
