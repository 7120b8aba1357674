/**
 * Run by otlp-export.test.ts in a process of its own (the OTLP exporter loads its transport
 * with a dynamic import, which jest's module sandbox refuses): tracing switched on by the
 * configuration, one HTTP request continuing `argv[2]` as traceparent, an event published in
 * it and consumed, then everything flushed to the receiver before the process exits.
 */
import { request as httpRequest, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import Joi from 'joi';
import { createEvent, InMemoryEventBus } from '@ecom/common/bus';
import { baseConfigKeys, loadConfig } from '@ecom/common/config';
import { createLogger } from '@ecom/common/logging';
import { startTracingFromConfig, stopTracing, traceRequests } from '@ecom/common/tracing';

async function main(): Promise<void> {
  const config = loadConfig(Joi.object(baseConfigKeys), process.env);
  if (!startTracingFromConfig(config, 'child-service')) throw new Error('tracing did not start');
  const logger = createLogger('child-service', 'silent');
  const bus = new InMemoryEventBus({ logger });
  let consumed!: () => void;
  const done = new Promise<void>((resolve) => (consumed = resolve));
  await bus.subscribe({
    group: 'child-consumer',
    eventTypes: ['order.created'],
    handler: async () => consumed(),
  });
  const server = createServer(
    traceRequests('child-service', (_req, res) => {
      void bus
        .publish(createEvent('child-service', 'order.created', { orderId: 'o-1' }))
        .then(() => res.end('ok'));
    }),
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve, reject) => {
    httpRequest(
      { port, host: '127.0.0.1', path: '/work?x=1', headers: { traceparent: process.argv[2] } },
      (res) => res.resume().on('end', resolve),
    )
      .on('error', reject)
      .end();
  });
  await done;
  await bus.close();
  await new Promise((resolve) => server.close(resolve));
  await stopTracing(); // flushes the batch to the receiver
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`${(err as Error).stack}\n`);
    process.exit(1);
  },
);
