import {
  context,
  propagation,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  type Context,
  type Link,
  type Span,
} from '@opentelemetry/api';
import { tracerFor, tracingEnabled, withService } from './state';

/** The W3C trace context an event carries in its envelope's metadata. */
export interface TraceCarrier {
  traceparent?: string;
  tracestate?: string;
}

/** What an event looks like to tracing (kept structural: no dependency on the bus). */
interface TracedEvent {
  eventId: string;
  eventType: string;
  metadata: TraceCarrier;
}

const MESSAGING_SYSTEM = 'ecom-bus';

/**
 * Opens and closes a `publish <type>` producer span under the active context (the request or
 * the handled event) and returns its W3C context for the envelope's metadata. Called when the
 * envelope is built, so the context is the one written with the outbox row and survives it.
 * Off, or with nothing to record (not sampled), it returns {} after one property read.
 */
export function publishTraceContext(
  service: string,
  eventType: string,
  eventId: string,
): TraceCarrier {
  if (!tracingEnabled()) return {};
  const parent = context.active();
  const span = tracerFor(service).startSpan(
    `publish ${eventType}`,
    {
      kind: SpanKind.PRODUCER,
      attributes: {
        'messaging.system': MESSAGING_SYSTEM,
        'messaging.operation.type': 'send',
        'messaging.destination.name': eventType,
        'messaging.message.id': eventId,
      },
    },
    parent,
  );
  const carrier: TraceCarrier = {};
  propagation.inject(trace.setSpan(parent, span), carrier);
  span.end();
  return carrier;
}

/** The context an event's metadata carries (the root context when it carries none). */
export function eventTraceContext(event: TracedEvent) {
  return propagation.extract(ROOT_CONTEXT, event.metadata);
}

/**
 * Runs `fn` (a bus adapter's send) in the context the event carries, so the driver's own spans
 * (amqplib's publish, ioredis's XADD) join the event's trace wherever it is sent from, the
 * outbox relay included. Off: just runs it.
 */
export function inEventContext<T>(event: TracedEvent, fn: () => T): T {
  if (!tracingEnabled()) return fn();
  return context.with(eventTraceContext(event), fn);
}

/**
 * Runs a handler inside a `process <type>` consumer span, child of the producer span the
 * event's metadata names: the consumer continues the publisher's trace, on every delivery
 * (a redelivery carries the same metadata, so it continues the same trace).
 */
export async function withEventSpan<T>(
  group: string,
  event: TracedEvent,
  attempt: number,
  fn: () => Promise<T>,
): Promise<T> {
  if (!tracingEnabled()) return fn();
  const service = `${group}-service`;
  const parent = withService(service, eventTraceContext(event));
  const span = tracerFor(service).startSpan(
    `process ${event.eventType}`,
    {
      kind: SpanKind.CONSUMER,
      attributes: {
        'messaging.system': MESSAGING_SYSTEM,
        'messaging.operation.type': 'process',
        'messaging.destination.name': event.eventType,
        'messaging.message.id': event.eventId,
        'messaging.consumer.group.name': group,
        'ecom.delivery.attempt': attempt,
      },
    },
    parent,
  );
  return runInSpan(span, parent, fn);
}

/**
 * Runs `fn` in a span of its own (a new trace) linked to the contexts the events carry:
 * work done for many events at once (an anchoring batch) points at each of their traces
 * without becoming part of any, so it never holds a trace open.
 */
export async function withLinkedSpan<T>(
  service: string,
  name: string,
  events: TraceCarrier[],
  fn: () => Promise<T>,
): Promise<T> {
  if (!tracingEnabled()) return fn();
  const links: Link[] = [];
  for (const carrier of events) {
    const linked = trace.getSpanContext(propagation.extract(ROOT_CONTEXT, carrier));
    if (linked) links.push({ context: linked });
  }
  const parent = withService(service, ROOT_CONTEXT);
  const span = tracerFor(service).startSpan(
    name,
    { kind: SpanKind.INTERNAL, links, attributes: { 'ecom.batch.size': events.length } },
    parent,
  );
  return runInSpan(span, parent, fn);
}

/** The active span's W3C traceparent, to store with a record for a later link (off: undefined). */
export function currentTraceparent(): string | undefined {
  if (!tracingEnabled()) return undefined;
  const carrier: TraceCarrier = {};
  propagation.inject(context.active(), carrier);
  return carrier.traceparent;
}

/** Runs `fn` with `span` active under `parent`; a throw marks the span failed. Ends it. */
async function runInSpan<T>(span: Span, parent: Context, fn: () => Promise<T>): Promise<T> {
  try {
    return await context.with(trace.setSpan(parent, span), fn);
  } catch (err) {
    span.recordException(err as Error);
    span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error)?.message });
    throw err;
  } finally {
    span.end();
  }
}
