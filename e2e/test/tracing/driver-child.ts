/**
 * Run by driver-spans.test.ts in a process of its own, started as a service is: the entry point
 * imports `@ecom/common/instrument` first, so the drivers loaded after it are instrumented when
 * OTEL_EXPORTER_OTLP_ENDPOINT is set. One traced request to an Express route queries PostgreSQL,
 * Redis and MongoDB (through mongoose) and publishes an event on RabbitMQ, which a consumer
 * handles; then everything is flushed. Prints which drivers are patched, as JSON.
 */
import '@ecom/common/instrument';
import express from 'express';
import Joi from 'joi';
import mongoose from 'mongoose';
import pg from 'pg';
import Redis from 'ioredis';
import { createEvent, createEventBus } from '@ecom/common/bus';
import { baseConfigKeys, loadConfig } from '@ecom/common/config';
import { createLogger } from '@ecom/common/logging';
import { startTracingFromConfig, stopTracing, traceRequests } from '@ecom/common/tracing';
import { runChild, serveOneRequest } from './child-support';

const env = (name: string) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
};

/** shimmer marks what it wrapped. */
const patched = (fn: unknown) => Boolean((fn as { __wrapped?: boolean } | undefined)?.__wrapped);

async function main(): Promise<void> {
  const report = {
    pg: patched(pg.Client.prototype.query),
    ioredis: patched(Redis.prototype.sendCommand),
    traced: false,
  };
  if (process.argv[2] === 'report') {
    process.stdout.write(`${JSON.stringify(report)}\n`);
    return;
  }
  const config = loadConfig(Joi.object(baseConfigKeys), process.env);
  report.traced = startTracingFromConfig(config, 'driver-child');
  const logger = createLogger('driver-child', 'silent');

  const pool = new pg.Pool({ connectionString: env('POSTGRES_URL'), max: 1 });
  const redis = new Redis(env('REDIS_URL'));
  await mongoose.connect(env('MONGO_URL'));
  const Thing = mongoose.model('Thing', new mongoose.Schema({ name: String }));
  const bus = createEventBus(
    { EVENT_BUS: 'rabbitmq', AMQP_URL: env('AMQP_URL') },
    { service: 'driver-child', logger, prefix: env('BUS_PREFIX') },
  );
  let consumed!: () => void;
  const done = new Promise<void>((resolve) => (consumed = resolve));
  await bus.subscribe({
    group: 'driver-consumer',
    eventTypes: ['order.created'],
    handler: async () => consumed(),
  });

  const app = express();
  app.get('/work', async (_req, res) => {
    await pool.query('SELECT 1 AS one');
    await redis.set('driver-child:key', 'v');
    await Thing.findOne({ name: 'absent' }).lean();
    await bus.publish(createEvent('driver-child', 'order.created', { orderId: 'o-1' }));
    res.json({ ok: true });
  });
  await serveOneRequest(traceRequests('driver-child', app), '/work', process.argv[2]);
  await done;
  await bus.close();
  await pool.end();
  redis.disconnect();
  await mongoose.disconnect();
  await stopTracing(); // flushes the batch to the receiver
  process.stdout.write(`${JSON.stringify(report)}\n`);
}

runChild(main);
