import { AsyncLocalStorage } from 'node:async_hooks';
import {
  context,
  propagation,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  type Context,
  type ContextManager,
  type Span,
  type Tracer,
} from '@opentelemetry/api';
import type { ApolloServerPlugin } from '@apollo/server';
import type { FastifyInstance } from 'fastify';
import type { Config } from './config.js';
import type { Logger } from './logger.js';
import { backgroundTrace, TRACER_NAME } from './telemetry-background.js';

/**
 * OpenTelemetry traces, configured from the standard OTEL_* settings. Off (no SDK, no-op API)
 * unless an endpoint is set. Spans carry ids, counts, codes and statuses — never a token, secret,
 * API key, query string or GraphQL variables.
 */
export interface Telemetry {
  enabled: boolean;
  /** Runs `work` as the root of a trace of its own (background work: token refresh, prefetch). */
  background<T>(name: string, attributes: Record<string, string | number>, work: () => Promise<T>): Promise<T>;
  /** Exports what is buffered, then turns tracing off. */
  shutdown(): Promise<void>;
}

/** AsyncLocalStorage context that can also be entered for the rest of an async chain (Apollo hooks cannot wrap execution). */
class StorageContextManager implements ContextManager {
  private readonly storage = new AsyncLocalStorage<Context>();
  active(): Context {
    return this.storage.getStore() ?? ROOT_CONTEXT;
  }
  with<A extends unknown[], F extends (...args: A) => ReturnType<F>>(ctx: Context, fn: F, thisArg?: ThisParameterType<F>, ...args: A): ReturnType<F> {
    return this.storage.run(ctx, () => fn.apply(thisArg, args));
  }
  bind<T>(ctx: Context, target: T): T {
    if (typeof target !== 'function') return target;
    const manager = this;
    return function (this: unknown, ...args: unknown[]) {
      return manager.with(ctx, () => (target as (...a: unknown[]) => unknown).apply(this, args));
    } as T;
  }
  enter(ctx: Context): void {
    this.storage.enterWith(ctx);
  }
  enable(): this {
    return this;
  }
  disable(): this {
    this.storage.disable();
    return this;
  }
}

let manager: StorageContextManager | undefined;

const disabled: Telemetry = { enabled: false, background: (_name, _attributes, work) => work(), shutdown: async () => undefined };

/** Registers the global tracer provider when an endpoint is configured (one traced gateway per process). The SDK is loaded only then. */
export async function createTelemetry(settings: Config['telemetry'], logger: Logger): Promise<Telemetry> {
  const url = settings.tracesEndpoint ?? (settings.endpoint ? `${settings.endpoint}/v1/traces` : undefined);
  if (!url) return disabled;
  const { startSdk } = await import('./telemetry-sdk.js');
  const provider = startSdk(settings, url);
  manager = new StorageContextManager();
  context.setGlobalContextManager(manager);
  trace.setGlobalTracerProvider(provider);
  // The URL may carry credentials in userinfo: log only where, never who.
  const where = new URL(url);
  logger.info({ endpoint: `${where.protocol}//${where.host}${where.pathname}`, protocol: settings.protocol, sampler: settings.sampler }, 'OpenTelemetry tracing on');
  return {
    enabled: true,
    background: backgroundTrace,
    async shutdown() {
      await provider.shutdown().catch((error: unknown) => logger.warn({ reason: (error as Error).message }, 'could not export the last spans'));
      trace.disable();
      propagation.disable();
      context.disable();
      manager = undefined;
    },
  };
}

function tracer(): Tracer {
  return trace.getTracer(TRACER_NAME);
}

const requestSpans = new WeakMap<object, Span>();

/**
 * One SERVER span per HTTP request, continuing a client's W3C `traceparent`. The rest of the
 * request runs inside it, so the GraphQL operation and Graph round trips become its children.
 */
export function registerHttpTracing(app: FastifyInstance, telemetry: Telemetry): void {
  if (!telemetry.enabled) return;
  app.addHook('onRequest', (request, _reply, done) => {
    const { span, parent } = startServerSpan(request.method, request.routeOptions.url ?? 'unmatched', request.url, request.headers);
    requestSpans.set(request.raw, span);
    context.with(trace.setSpan(parent, span), done);
  });
  app.addHook('onResponse', async (request, reply) => {
    const span = requestSpans.get(request.raw);
    if (span) endServerSpan(span, reply.statusCode);
  });
}

/** Whether spans are recorded (an OTLP endpoint is configured). */
export function tracingOn(): boolean {
  return manager !== undefined;
}

const untraced = () => undefined;

/**
 * The SERVER span of a request answered before Fastify (the hot path): ends when `done` is called
 * with the status. A no-op while tracing is off.
 */
export function traceServerRequest(method: string, route: string, url: string, headers: Record<string, unknown>): (status: number) => void {
  if (!manager) return untraced;
  const { span } = startServerSpan(method, route, url, headers);
  return (status) => endServerSpan(span, status);
}

function startServerSpan(method: string, route: string, url: string, headers: Record<string, unknown>): { span: Span; parent: Context } {
  const parent = propagation.extract(ROOT_CONTEXT, headers);
  const attributes = { 'http.request.method': method, 'http.route': route, 'url.path': url.split('?')[0]!, 'url.scheme': 'http' };
  return { span: tracer().startSpan(`${method} ${route}`, { kind: SpanKind.SERVER, attributes }, parent), parent };
}

function endServerSpan(span: Span, status: number): void {
  span.setAttribute('http.response.status_code', status);
  if (status >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
  span.end();
}

/** One span per GraphQL operation, made the active context for its execution (so Graph round trips nest under it). */
export function graphqlTracingPlugin<C extends { account?: { id: string } }>(): ApolloServerPlugin<C> {
  return {
    async requestDidStart() {
      if (!manager) return;
      const parent = context.active();
      const span = tracer().startSpan('graphql.operation', { kind: SpanKind.INTERNAL }, parent);
      // Enter synchronously, before Apollo's next await: the rest of this request's execution runs inside the span.
      manager.enter(trace.setSpan(parent, span));
      return {
        async didResolveOperation({ operationName, operation, contextValue }) {
          if (!operation) return;
          const type = operation.operation;
          span.updateName(`${type} ${operationName ?? firstField(operation)}`);
          span.setAttributes({ 'graphql.operation.type': type, 'graphql.operation.name': operationName ?? '' });
          if (contextValue.account) span.setAttribute('instagram.account.id', contextValue.account.id);
        },
        async willSendResponse({ response }) {
          const errors = response.body.kind === 'single' ? (response.body.singleResult.errors?.length ?? 0) : 0;
          if (errors) span.setAttribute('graphql.errors.count', errors);
          span.end();
        },
      };
    },
  };
}

function firstField(operation: { selectionSet: { selections: ReadonlyArray<{ kind: string; name?: { value: string } }> } }): string {
  return operation.selectionSet.selections.find((s) => s.kind === 'Field')?.name?.value ?? 'anonymous';
}

/**
 * Runs `work` inside the `graphql.operation` span of a query the warm path took (marked
 * `graphql.warm_path`): the Graph round trips it causes nest under it, as under Apollo's.
 */
export function traceWarmOperation<T>(operationName: string | undefined, name: string, accountId: string, work: () => T): T {
  if (!manager) return work();
  const attributes = { 'graphql.operation.type': 'query', 'graphql.operation.name': operationName ?? '', 'instagram.account.id': accountId, 'graphql.warm_path': true };
  const parent = context.active();
  const span = tracer().startSpan(`query ${name}`, { kind: SpanKind.INTERNAL, attributes }, parent);
  let result: T;
  try {
    result = context.with(trace.setSpan(parent, span), work);
  } catch (error) {
    span.end();
    throw error;
  }
  if (result instanceof Promise) return result.finally(() => span.end()) as T;
  span.end();
  return result;
}
