/**
 * Anchoring in a trace: the payment records a saga writes carry the writer's trace context,
 * and the anchoring batch that puts them on chain is a span of its own trace, linked to them
 * (linked, not a child: the saga's trace never waits for the chain). In-memory bus, real
 * PostgreSQL, an in-process chain.
 */
import { InMemorySpanExporter } from '@opentelemetry/sdk-trace-base';
import { startTracing, stopTracing } from '@ecom/common/tracing';
import { startEmbeddedChain, type EmbeddedChain } from '@ecom/blockchain/src/embedded-chain';
import { freePort } from '@ecom/test-support';
import { Saga, eventually } from '../saga/harness';

process.env.POSTGRES_URL ??= 'postgres://postgres@127.0.0.1:5432/postgres';
jest.setTimeout(90_000);

const exporter = new InMemorySpanExporter();
let chain: EmbeddedChain;
let saga: Saga;

beforeAll(async () => {
  startTracing({ exporter });
  chain = await startEmbeddedChain({ port: 0, anchorers: 1 });
  saga = new Saga({
    kind: 'memory',
    label: 'trace_anchoring',
    captureLogs: false,
    env: {
      payment: {
        BLOCKCHAIN_RPC_URL: chain.url,
        ANCHOR_CONTRACT_ADDRESS: chain.contractAddress,
        ANCHOR_PRIVATE_KEY: chain.anchorerKeys[0]!,
        ANCHOR_WINDOW_MS: '30',
        // Payment asks order for refunds only; nothing listens there in this test.
        ORDER_SERVICE_URL: `http://127.0.0.1:${await freePort()}`,
      },
    },
  });
  await saga.start();
});

afterAll(async () => {
  await saga?.close();
  await chain?.stop();
  await stopTracing();
});

it('the anchoring batch is a span of its own, linked to the trace of each record it anchors', async () => {
  const productId = await saga.createProduct(10, 5);
  const order = await saga.placeOrder([{ productId, quantity: 1 }], 'tok_visa');
  await saga.waitOrder(order.id, 'CONFIRMED');
  const [completed] = await eventually(
    () => saga.of('payment.completed', order.id),
    'payment.completed',
  );
  const sagaTrace = /^00-([0-9a-f]{32})-/.exec(completed!.metadata.traceparent ?? '')![1];

  // The payment's records were written in the saga's trace.
  const payment = await saga.paymentRow(order.id);
  const { rows } = await saga.payment.pool.query<{ traceparent: string | null }>(
    `SELECT traceparent FROM anchor_records WHERE record_id = $1`,
    [payment!.id],
  );
  expect(rows.length).toBeGreaterThan(0);
  for (const row of rows) expect(row.traceparent).toMatch(new RegExp(`^00-${sagaTrace}-`));

  // Each record is anchored by a batch span that links to the span it was written in.
  const anchorSpans = () => exporter.getFinishedSpans().filter((s) => s.name === 'anchor batch');
  const linksTo = (traceparent: string) => (s: ReturnType<typeof anchorSpans>[number]) =>
    s.links.some((l) => traceparent.startsWith(`00-${l.context.traceId}-${l.context.spanId}-`));
  for (const row of rows) {
    const anchored = await eventually(
      () => anchorSpans().find(linksTo(row.traceparent!)),
      'the anchoring span linked to the record',
      30_000,
    );
    expect(anchored.resource.attributes['service.name']).toBe('payment-service');
    // Its own trace: not a child of the saga's spans.
    expect(anchored.parentSpanContext).toBeUndefined();
    expect(anchored.spanContext().traceId).not.toBe(sagaTrace);
  }
});
