import { ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Span } from '@opentelemetry/api';

export const TRACER_NAME = 'ig-profile-gateway';

/**
 * Runs `work` as the root span of a trace of its own: background work (webhook processing and
 * prefetch, refresh-ahead, token refresh) belongs to no request, and the Graph round trips it makes
 * nest under this span. With tracing off the global API hands out a no-op span.
 */
export function backgroundTrace<T>(name: string, attributes: Record<string, string | number>, work: () => Promise<T>): Promise<T> {
  return trace.getTracer(TRACER_NAME).startActiveSpan(name, { kind: SpanKind.INTERNAL, attributes, root: true }, ROOT_CONTEXT, (span) => finish(span, work));
}

/** Ends `span` when `work` settles, marking a rejection as an error (message only: no stack, no values). */
export async function finish<T>(span: Span, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.name : 'error' });
    throw error;
  } finally {
    span.end();
  }
}
