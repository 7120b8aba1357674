import {
  context,
  propagation,
  trace,
  type Context,
  type Span,
  type SpanOptions,
  type Tracer,
  type TracerProvider,
} from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { UndiciInstrumentation } from '@opentelemetry/instrumentation-undici';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  BasicTracerProvider,
  BatchSpanProcessor,
  ParentBasedSampler,
  SimpleSpanProcessor,
  TraceIdRatioBasedSampler,
  type SpanExporter,
  type SpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { ATTR_SERVICE_NAME } from '@opentelemetry/semantic-conventions';
import { currentService, defaultService, setActiveTracing, tracerFor } from './state';

export interface TracingOptions {
  /** OTLP/HTTP base URL (`/v1/traces` is appended), e.g. http://127.0.0.1:4318. */
  endpoint?: string;
  /** Spans go here instead (tests: an InMemorySpanExporter), exported one by one. */
  exporter?: SpanExporter;
  /** Share of new traces kept (parent-based: a continued trace follows its parent). Default 1. */
  sampleRatio?: number;
  /** The service spans are attributed to when no service span is active (e.g. fetch from a timer). */
  defaultService?: string;
}

interface TracingState {
  options: TracingOptions;
  /** One provider per service, so each span carries its own service's resource. */
  providers: Map<string, BasicTracerProvider>;
  contextManager: AsyncLocalStorageContextManager;
  undici: UndiciInstrumentation;
}

let state: TracingState | undefined;

function newProvider(service: string, options: TracingOptions): BasicTracerProvider {
  const processors: SpanProcessor[] = [];
  if (options.exporter) processors.push(new SimpleSpanProcessor(options.exporter));
  if (options.endpoint) {
    const url = `${options.endpoint.replace(/\/+$/, '')}/v1/traces`;
    processors.push(new BatchSpanProcessor(new OTLPTraceExporter({ url })));
  }
  return new BasicTracerProvider({
    resource: resourceFromAttributes({ [ATTR_SERVICE_NAME]: service }),
    sampler: new ParentBasedSampler({
      root: new TraceIdRatioBasedSampler(options.sampleRatio ?? 1),
    }),
    spanProcessors: processors,
  });
}

/** The tracer of a service: its own provider (and resource), made on first use. */
function sdkTracerFor(current: TracingState, service: string): Tracer {
  let provider = current.providers.get(service);
  if (!provider) {
    provider = newProvider(service, current.options);
    current.providers.set(service, provider);
  }
  return provider.getTracer('@ecom/common');
}

/**
 * The global provider instrumentations use (fetch): it hands each span to the provider of
 * the service whose work is active, so that in the one-process embedded run a product call
 * made by order is order's span, not the process's.
 */
class ServiceRoutingProvider implements TracerProvider {
  getTracer(): Tracer {
    const pick = (ctx?: Context) =>
      tracerFor(currentService(ctx ?? context.active()) ?? defaultService());
    return {
      startSpan: (name: string, options?: SpanOptions, ctx?: Context): Span =>
        pick(ctx).startSpan(name, options, ctx),
      startActiveSpan: ((name: string, ...rest: unknown[]) => {
        const fn = rest.pop() as (span: Span) => unknown;
        const [options, ctx] = rest as [SpanOptions | undefined, Context | undefined];
        const parent = ctx ?? context.active();
        const span = pick(parent).startSpan(name, options, parent);
        return context.with(trace.setSpan(parent, span), fn, undefined, span);
      }) as Tracer['startActiveSpan'],
    };
  }
}

/**
 * Starts tracing for this process (once; later calls keep the first setup): W3C trace
 * context propagation, async context across awaits, fetch instrumentation, and export to
 * OTLP/HTTP and/or the given exporter. Returns false when it was already started.
 */
export function startTracing(options: TracingOptions): boolean {
  if (state) return false;
  const contextManager = new AsyncLocalStorageContextManager().enable();
  context.setGlobalContextManager(contextManager);
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  trace.setGlobalTracerProvider(new ServiceRoutingProvider());
  const current: TracingState = {
    options,
    providers: new Map(),
    contextManager,
    // Subscribes to fetch's diagnostics channels; spans go to the global provider set above.
    // Only fetches made for a traced request or event: health probes stay out of the traces.
    undici: new UndiciInstrumentation({ requireParentforSpans: true }),
  };
  state = current;
  setActiveTracing({
    tracerFor: (service) => sdkTracerFor(current, service),
    flush: async () => {
      await Promise.all([...current.providers.values()].map((p) => p.forceFlush()));
    },
    defaultService: options.defaultService,
  });
  return true;
}

/** Flushes and unregisters everything (tests switch tracing off again; process exit). */
export async function stopTracing(): Promise<void> {
  const current = state;
  if (!current) return;
  state = undefined;
  setActiveTracing(undefined);
  current.undici.disable();
  await Promise.all([...current.providers.values()].map((p) => p.shutdown()));
  current.contextManager.disable();
  trace.disable();
  context.disable();
  propagation.disable();
}
