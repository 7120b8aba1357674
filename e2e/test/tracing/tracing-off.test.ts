/**
 * Without OTEL_EXPORTER_OTLP_ENDPOINT tracing stays off: nothing is registered, events carry
 * no trace context, handlers and requests run with no span, log lines have no trace ids.
 */
import type { RequestListener } from 'node:http';
import { Writable } from 'node:stream';
import Joi from 'joi';
import winston from 'winston';
import { trace } from '@opentelemetry/api';
import { createEvent, InMemoryEventBus, type EventEnvelope } from '@ecom/common/bus';
import { baseConfigKeys, ConfigError, loadConfig } from '@ecom/common/config';
import { createLogger } from '@ecom/common/logging';
import {
  startTracingFromConfig,
  traceRequests,
  tracingEnabled,
  type TracingConfig,
} from '@ecom/common/tracing';

const schema = Joi.object(baseConfigKeys);

it('the shared configuration turns tracing on only with an endpoint, and not when disabled', () => {
  const off = loadConfig<TracingConfig>(schema, {});
  expect(off.OTEL_TRACES_SAMPLER_ARG).toBe(1);
  expect(startTracingFromConfig(off, 'test-service')).toBe(false);
  const disabled = loadConfig<TracingConfig>(schema, {
    OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318',
    OTEL_SDK_DISABLED: 'true',
  });
  expect(startTracingFromConfig(disabled, 'test-service')).toBe(false);
  expect(tracingEnabled()).toBe(false);
  expect(() => loadConfig(schema, { OTEL_EXPORTER_OTLP_ENDPOINT: 'localhost:4318' })).toThrow(
    ConfigError,
  );
  expect(() => loadConfig(schema, { OTEL_TRACES_SAMPLER_ARG: '2' })).toThrow(ConfigError);
});

it('off: no span, no traceparent in the metadata, no trace ids in the log lines', async () => {
  const lines: Array<Record<string, unknown>> = [];
  const logger = createLogger('off-service', 'info');
  logger.clear();
  logger.add(
    new winston.transports.Stream({
      stream: new Writable({
        write(chunk: Buffer, _encoding, callback) {
          lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
          callback();
        },
      }),
    }),
  );
  const bus = new InMemoryEventBus({ logger });
  const caused: EventEnvelope[] = [];
  let spanInHandler: unknown = 'not run';
  await bus.subscribe({
    group: 'off',
    eventTypes: ['order.created'],
    handler: async () => {
      spanInHandler = trace.getActiveSpan();
      logger.info('inside the handler');
      caused.push(createEvent('off-service', 'order.confirmed', { orderId: 'o-1' }));
    },
  });
  const event = createEvent('off-service', 'order.created', { orderId: 'o-1' });
  expect(Object.keys(event.metadata)).toEqual(['correlationId']);
  await bus.publish(event);
  await bus.idle();
  expect(spanInHandler).toBeUndefined();
  expect(Object.keys(caused[0]!.metadata).sort()).toEqual(['causationId', 'correlationId']);
  expect(lines.map((l) => l.message)).toEqual(['inside the handler', 'event handled']);
  for (const line of lines) {
    expect(line).not.toHaveProperty('traceId');
    expect(line).not.toHaveProperty('spanId');
  }
  await bus.close();

  // A server's listener is served as it is, not wrapped.
  const listener: RequestListener = (_req, res) => res.end();
  expect(traceRequests('off-service', listener)).toBe(listener);
});
