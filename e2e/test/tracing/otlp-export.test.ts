/**
 * Export over OTLP/HTTP to a real receiver: a small HTTP server in this test accepts what the
 * exporter posts to /v1/traces (OTLP JSON) and decodes it. The exporter runs in a child
 * process (export-child.ts) started the way a deployment starts tracing: by
 * OTEL_EXPORTER_OTLP_ENDPOINT in the environment.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { attribute, hex, startOtlpReceiver } from './otlp-receiver';

const ROOT = join(__dirname, '..', '..', '..');
let receiver: Awaited<ReturnType<typeof startOtlpReceiver>>;

beforeAll(async () => {
  receiver = await startOtlpReceiver();
});

afterAll(async () => {
  await receiver?.close();
});

it("a process with OTEL_EXPORTER_OTLP_ENDPOINT exports its spans as OTLP JSON, in the caller's trace", async () => {
  const traceId = '0af7651916cd43dd8448eb211c80319c';
  const parent = 'b7ad6b7169203331';
  await promisify(execFile)(
    join(ROOT, 'node_modules', '.bin', 'tsx'),
    [
      '--tsconfig',
      join(ROOT, 'platform', 'tsconfig.run.json'),
      join(__dirname, 'export-child.ts'),
      `00-${traceId}-${parent}-01`,
    ],
    {
      cwd: ROOT,
      env: {
        PATH: process.env.PATH,
        LOG_LEVEL: 'silent',
        OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
      },
      timeout: 60_000,
    },
  );

  expect(receiver.received.length).toBeGreaterThan(0);
  expect(receiver.received[0]!.contentType).toMatch(/^application\/json/);
  const spans = receiver.spans();
  const server = spans.find((s) => s.name === 'GET /work');
  const producer = spans.find((s) => s.name === 'publish order.created');
  const consumer = spans.find((s) => s.name === 'process order.created');
  expect(server).toMatchObject({ service: 'child-service', kind: 2 }); // SERVER
  expect(producer).toMatchObject({ service: 'child-service', kind: 4 }); // PRODUCER
  expect(consumer).toMatchObject({ service: 'child-consumer-service', kind: 5 }); // CONSUMER
  for (const span of [server!, producer!, consumer!]) expect(hex(span.traceId)).toBe(traceId);
  expect(hex(server!.parentSpanId)).toBe(parent);
  expect(hex(producer!.parentSpanId)).toBe(hex(server!.spanId));
  expect(hex(consumer!.parentSpanId)).toBe(hex(producer!.spanId));
  expect(Number(attribute(server!.attributes, 'http.response.status_code')?.intValue)).toBe(200);
});
