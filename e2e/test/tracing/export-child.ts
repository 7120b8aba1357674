/**
 * Run by otlp-export.test.ts in a process of its own (the OTLP exporter loads its transport
 * with a dynamic import, which jest's module sandbox refuses): tracing switched on by the
 * configuration, one HTTP request continuing `argv[2]` as traceparent, an event published in
 * it and consumed, then everything flushed to the receiver before the process exits.
 */
import Joi from 'joi';
import { createEvent, InMemoryEventBus } from '@ecom/common/bus';
import { baseConfigKeys, loadConfig } from '@ecom/common/config';
import { createLogger } from '@ecom/common/logging';
import { startTracingFromConfig, stopTracing, traceRequests } from '@ecom/common/tracing';
import { runChild, serveOneRequest } from './child-support';

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
  await serveOneRequest(
    traceRequests('child-service', (_req, res) => {
      void bus
        .publish(createEvent('child-service', 'order.created', { orderId: 'o-1' }))
        .then(() => res.end('ok'));
    }),
    '/work?x=1',
    process.argv[2],
  );
  await done;
  await bus.close();
  await stopTracing(); // flushes the batch to the receiver
}

runChild(main);
