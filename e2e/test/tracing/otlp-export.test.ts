/**
 * Export over OTLP/HTTP to a real receiver: a small HTTP server in this test accepts what the
 * exporter posts to /v1/traces (OTLP JSON) and decodes it. The exporter runs in a child
 * process (export-child.ts) started the way a deployment starts tracing: by
 * OTEL_EXPORTER_OTLP_ENDPOINT in the environment.
 */
import { execFile } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';

interface OtlpValue {
  stringValue?: string;
  intValue?: string | number;
}
type OtlpAttributes = Array<{ key: string; value: OtlpValue }>;
interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes?: OtlpAttributes;
}
interface OtlpRequest {
  resourceSpans: Array<{
    resource: { attributes: OtlpAttributes };
    scopeSpans: Array<{ spans: OtlpSpan[] }>;
  }>;
}

/** OTLP/JSON ids are hex; some encoders send base64: normalise to hex. */
const hex = (id: string | undefined) =>
  id === undefined || /^[0-9a-f]*$/i.test(id)
    ? id?.toLowerCase()
    : Buffer.from(id, 'base64').toString('hex');
const attribute = (attributes: OtlpAttributes | undefined, key: string) =>
  attributes?.find((a) => a.key === key)?.value;

const ROOT = join(__dirname, '..', '..', '..');
const received: Array<{ contentType: string; body: OtlpRequest }> = [];
let receiver: Server;

beforeAll(async () => {
  receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (req.method !== 'POST' || req.url !== '/v1/traces') {
        res.writeHead(404).end();
        return;
      }
      received.push({
        contentType: req.headers['content-type'] ?? '',
        body: JSON.parse(Buffer.concat(chunks).toString()) as OtlpRequest,
      });
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
});

afterAll(async () => {
  await new Promise((resolve) => receiver?.close(resolve));
});

it("a process with OTEL_EXPORTER_OTLP_ENDPOINT exports its spans as OTLP JSON, in the caller's trace", async () => {
  const { port } = receiver.address() as AddressInfo;
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
        OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}`,
      },
      timeout: 60_000,
    },
  );

  expect(received.length).toBeGreaterThan(0);
  expect(received[0]!.contentType).toMatch(/^application\/json/);
  const spans = received.flatMap(({ body }) =>
    body.resourceSpans.flatMap((rs) => {
      const service = attribute(rs.resource.attributes, 'service.name')?.stringValue;
      return rs.scopeSpans.flatMap((ss) => ss.spans.map((span) => ({ service, ...span })));
    }),
  );
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
