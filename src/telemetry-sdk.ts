import { propagation } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter as JsonExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPTraceExporter as ProtoExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  BatchSpanProcessor,
  BasicTracerProvider,
  ParentBasedSampler,
  TraceIdRatioBasedSampler,
  type Sampler,
} from '@opentelemetry/sdk-trace-node';
import type { Config } from './config.js';

// The OpenTelemetry SDK and OTLP exporters: imported by src/telemetry.ts only when an endpoint is set.

function sampler(settings: Config['telemetry']): Sampler {
  const ratio = new TraceIdRatioBasedSampler(settings.samplerRatio);
  switch (settings.sampler) {
    case 'always_on':
      return new AlwaysOnSampler();
    case 'always_off':
      return new AlwaysOffSampler();
    case 'traceidratio':
      return ratio;
    case 'parentbased_always_off':
      return new ParentBasedSampler({ root: new AlwaysOffSampler() });
    case 'parentbased_traceidratio':
      return new ParentBasedSampler({ root: ratio });
    case 'parentbased_always_on':
      return new ParentBasedSampler({ root: new AlwaysOnSampler() });
  }
}

/** A tracer provider exporting to `url` over OTLP/HTTP, and the W3C propagator. */
export function startSdk(settings: Config['telemetry'], url: string): BasicTracerProvider {
  const Exporter = settings.protocol === 'http/json' ? JsonExporter : ProtoExporter;
  const exporter = new Exporter({ url, headers: settings.headers ?? {}, timeoutMillis: 10_000 });
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  return new BasicTracerProvider({
    resource: resourceFromAttributes({ 'service.name': settings.serviceName }),
    sampler: sampler(settings),
    // Bounded: past maxQueueSize spans are dropped (counted by the SDK), never buffered without end.
    spanProcessors: [new BatchSpanProcessor(exporter, { maxQueueSize: 2048, maxExportBatchSize: 512, scheduledDelayMillis: 1000 })],
    spanLimits: { attributeValueLengthLimit: 256, attributeCountLimit: 32 },
  });
}
