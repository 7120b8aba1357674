import request from 'supertest';
import { SpanKind } from '@opentelemetry/api';
import { InMemorySpanExporter, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import type { EventEnvelope } from '@ecom/common/bus';
import { startTracing, stopTracing } from '@ecom/common/tracing';
import { gatewayService, loadGatewayConfig, type RunningGateway } from '@ecom/gateway';
import { testServiceEnv } from '@ecom/test-support';
import { Saga, address, bearer, customer, eventually, type BusKind } from '../saga/harness';

const SAGA_SERVICES = ['gateway-service', 'order-service', 'product-service', 'payment-service'];

const serviceOf = (span: ReadableSpan) => span.resource.attributes['service.name'] as string;
const parentOf = (span: ReadableSpan) => span.parentSpanContext?.spanId;
const idOf = (span: ReadableSpan) => span.spanContext().spanId;
const traceOf = (span: ReadableSpan) => span.spanContext().traceId;

/** `00-<trace>-<span>-<flags>` → its trace and span ids. */
function parseTraceparent(value: string | undefined): { traceId: string; spanId: string } {
  const match = /^00-([0-9a-f]{32})-([0-9a-f]{16})-0[01]$/.exec(value ?? '');
  if (!match) throw new Error(`not a traceparent: ${value}`);
  return { traceId: match[1]!, spanId: match[2]! };
}

/**
 * One order's saga as one trace (gateway → order → bus → product, payment, order) over one
 * bus adapter, recorded by an in-memory span exporter.
 */
export function traceSuite(kind: BusKind, url?: string): void {
  const exporter = new InMemorySpanExporter();
  let saga: Saga;
  let gateway: RunningGateway;

  beforeAll(async () => {
    startTracing({ exporter });
    saga = await new Saga({ kind, label: `trace_${kind}`, url }).start();
    gateway = await gatewayService.start({
      config: loadGatewayConfig({
        ...testServiceEnv,
        ORDER_SERVICE_URL: saga.order.url,
        PRODUCT_SERVICE_URL: saga.product.url,
        // Not started: the saga does not call them.
        AUTH_SERVICE_URL: 'http://127.0.0.1:9',
        COMMENTS_SERVICE_URL: 'http://127.0.0.1:9',
        PAYMENT_SERVICE_URL: 'http://127.0.0.1:9',
        RATE_LIMIT_ENABLED: 'false',
      }),
    });
  }, 60_000);

  afterAll(async () => {
    await gateway?.stop();
    await saga?.close();
    await stopTracing();
  }, 30_000);

  const spans = () => exporter.getFinishedSpans();
  const consumerSpans = (group: string, event: EventEnvelope) =>
    spans().filter(
      (s) =>
        s.kind === SpanKind.CONSUMER &&
        s.attributes['messaging.message.id'] === event.eventId &&
        s.attributes['messaging.consumer.group.name'] === group,
    );

  /** Places an order through the gateway and waits for its confirmation; returns the saga's events. */
  async function confirmedOrder(headers: Record<string, string> = {}) {
    const productId = await saga.createProduct(10, 4);
    const res = await request(gateway.url)
      .post('/api/orders')
      .set('Authorization', bearer(customer))
      .set(headers)
      .send({
        items: [{ productId, quantity: 2 }],
        shippingAddress: address,
        payment: { method: 'card', token: 'tok_visa' },
      });
    expect(res.status).toBe(201);
    const orderId = res.body.id as string;
    await saga.waitOrder(orderId, 'CONFIRMED');
    const confirmed = await eventually(() => saga.of('order.confirmed', orderId)[0], 'confirmed');
    // The last consumer span (order handling payment.completed) ends after its publish.
    await eventually(
      () => consumerSpans('saga-spy', confirmed).length > 0,
      'order.confirmed consumed',
    );
    return { orderId, events: saga.forOrder(orderId), confirmed };
  }

  it('one order, one trace: gateway → order → product → payment → order.confirmed, every span under its parent', async () => {
    const { orderId, events, confirmed } = await confirmedOrder();
    const edge = spans().find(
      (s) => serviceOf(s) === 'gateway-service' && s.name === 'POST /api/orders',
    );
    expect(edge).toBeDefined();
    expect(parentOf(edge!)).toBeUndefined(); // the trace starts at the gateway
    const traceId = traceOf(edge!);
    const trace = spans().filter((s) => traceOf(s) === traceId);

    // Spans from every service of the saga, and nothing of it in another trace.
    const services = new Set(trace.map(serviceOf));
    for (const service of SAGA_SERVICES) expect(services).toContain(service);
    for (const event of events)
      expect(parseTraceparent(event.metadata.traceparent).traceId).toBe(traceId);
    expect(parseTraceparent(confirmed.metadata.traceparent).traceId).toBe(traceId);

    // A tree: one root (the gateway's span), every other span's parent is in the trace.
    const ids = new Set(trace.map(idOf));
    expect(trace.filter((s) => !parentOf(s)).map(idOf)).toEqual([idOf(edge!)]);
    for (const span of trace) if (parentOf(span)) expect(ids).toContain(parentOf(span));

    // The HTTP hop: order's server span is the gateway span's child.
    const orderServer = trace.find(
      (s) => serviceOf(s) === 'order-service' && s.kind === SpanKind.SERVER,
    );
    expect(parentOf(orderServer!)).toBe(idOf(edge!));
    // Order's call to product (undici, instrumented) → product's server span under it.
    const productServer = trace.find(
      (s) => serviceOf(s) === 'product-service' && s.kind === SpanKind.SERVER,
    );
    const fetchSpan = trace.find((s) => idOf(s) === parentOf(productServer!));
    expect(fetchSpan).toMatchObject({ kind: SpanKind.CLIENT });
    expect(serviceOf(fetchSpan!)).toBe('order-service');
    expect(parentOf(fetchSpan!)).toBe(idOf(orderServer!));

    // Across the bus: each consumer's span is the child of the producer span of its event,
    // which is the child of the span that was active when the event was written.
    const byId = new Map(trace.map((s) => [idOf(s), s]));
    const hops: Array<[string, string, string]> = [
      ['order.created', 'product', 'order-service'],
      ['inventory.reserved', 'payment', 'product-service'],
      ['payment.completed', 'order', 'payment-service'],
    ];
    for (const [type, group, publisher] of hops) {
      const [event] = saga.of(type, orderId);
      const { spanId } = parseTraceparent(event!.metadata.traceparent);
      const producer = byId.get(spanId)!;
      expect(producer.name).toBe(`publish ${type}`);
      expect(producer.kind).toBe(SpanKind.PRODUCER);
      expect(serviceOf(producer)).toBe(publisher);
      const [consumer] = consumerSpans(group, event!);
      expect(consumer!.name).toBe(`process ${type}`);
      expect(serviceOf(consumer!)).toBe(`${group}-service`);
      expect(parentOf(consumer!)).toBe(spanId);
    }
    // order.confirmed is published while order handles payment.completed.
    const [completed] = saga.of('payment.completed', orderId);
    const confirmedBy = byId.get(parseTraceparent(confirmed.metadata.traceparent).spanId)!;
    expect(parentOf(confirmedBy)).toBe(idOf(consumerSpans('order', completed!)[0]!));

    // Health checks (the gateway's, which probes its upstreams) are not traced.
    await request(gateway.url).get('/health');
    await request(saga.order.url).get('/health/ready').expect(200);
    expect(
      spans().filter((s) => /health/.test(s.name) || (s.kind === SpanKind.CLIENT && !parentOf(s))),
    ).toEqual([]);
  });

  it("continues a client's traceparent at the gateway", async () => {
    const clientTrace = '4bf92f3577b34da6a3ce929d0e0e4736';
    const clientSpan = '00f067aa0ba902b7';
    const { confirmed } = await confirmedOrder({
      traceparent: `00-${clientTrace}-${clientSpan}-01`,
    });
    const edge = spans().find(
      (s) => serviceOf(s) === 'gateway-service' && traceOf(s) === clientTrace,
    );
    expect(parentOf(edge!)).toBe(clientSpan);
    expect(parseTraceparent(confirmed.metadata.traceparent).traceId).toBe(clientTrace);
  });

  it('the context written with the outbox row is the one the consumer continues, and a redelivery continues it too', async () => {
    const { orderId } = await confirmedOrder();
    const [completed] = saga.of('payment.completed', orderId);
    // payment writes payment.completed to its PostgreSQL outbox; the relay publishes the row.
    const { rows } = await saga.payment.pool.query(
      `SELECT payload FROM event_outbox WHERE event_id = $1`,
      [completed!.eventId],
    );
    const stored = (rows[0] as { payload: EventEnvelope }).payload;
    const written = parseTraceparent(stored.metadata.traceparent);
    const [first] = consumerSpans('order', completed!);
    expect(traceOf(first!)).toBe(written.traceId);
    expect(parentOf(first!)).toBe(written.spanId);

    // Delivered again (same envelope): handled as a duplicate, in the same trace, same parent.
    await saga.redeliver(completed!);
    const again = await eventually(
      () =>
        consumerSpans('order', completed!).length === 2 ? consumerSpans('order', completed!) : null,
      'redelivery consumed',
    );
    for (const span of again) {
      expect(traceOf(span)).toBe(written.traceId);
      expect(parentOf(span)).toBe(written.spanId);
    }
    expect(idOf(again[0]!)).not.toBe(idOf(again[1]!));
  });

  it('log lines carry the traceId and spanId of the span they were written in', async () => {
    const { orderId } = await confirmedOrder();
    const [reserved] = saga.of('inventory.reserved', orderId);
    const [consumer] = consumerSpans('payment', reserved!);
    const handled = saga.logs.find(
      (l) =>
        l.message === 'event handled' && l.eventId === reserved!.eventId && l.group === 'payment',
    );
    expect(handled).toMatchObject({
      traceId: traceOf(consumer!),
      spanId: idOf(consumer!),
    });
    // Every line the order and payment services wrote about this order is in its trace.
    const traceId = traceOf(consumer!);
    const lines = saga.logs.filter((l) => l.orderId === orderId);
    expect(lines.length).toBeGreaterThan(0);
    for (const line of lines) expect(line.traceId).toBe(traceId);
  });
}
