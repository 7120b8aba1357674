import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A real OTLP/HTTP receiver for the export tests: it accepts what an exporter posts to
 * /v1/traces (OTLP JSON) and decodes it into spans, each with its service's name.
 */

interface OtlpValue {
  stringValue?: string;
  intValue?: string | number;
}
export type OtlpAttributes = Array<{ key: string; value: OtlpValue }>;
export interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes?: OtlpAttributes;
  links?: Array<{ traceId: string; spanId: string }>;
}
interface OtlpRequest {
  resourceSpans: Array<{
    resource: { attributes: OtlpAttributes };
    scopeSpans: Array<{ spans: OtlpSpan[] }>;
  }>;
}

/** OTLP/JSON ids are hex; some encoders send base64: normalise to hex. */
export const hex = (id: string | undefined) =>
  id === undefined || /^[0-9a-f]*$/i.test(id)
    ? id?.toLowerCase()
    : Buffer.from(id, 'base64').toString('hex');

export const attribute = (attributes: OtlpAttributes | undefined, key: string) =>
  attributes?.find((a) => a.key === key)?.value;

export async function startOtlpReceiver() {
  const received: Array<{ contentType: string; body: OtlpRequest }> = [];
  const server = createServer((req, res) => {
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
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    received,
    /** Every span received so far, with its service's name. */
    spans: () =>
      received.flatMap(({ body }) =>
        body.resourceSpans.flatMap((rs) => {
          const service = attribute(rs.resource.attributes, 'service.name')?.stringValue;
          return rs.scopeSpans.flatMap((ss) => ss.spans.map((span) => ({ service, ...span })));
        }),
      ),
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}
