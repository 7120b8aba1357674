/**
 * Store and broker spans: a process started as a service is (`@ecom/common/instrument` first)
 * with OTEL_EXPORTER_OTLP_ENDPOINT set traces its PostgreSQL, Redis, MongoDB and RabbitMQ calls
 * and its Express route as children of the request's span, in the caller's trace, exported to
 * a real OTLP receiver; without the endpoint no driver is even patched. Real servers: PostgreSQL,
 * Redis, RabbitMQ, and the MongoDB stand-in (or MONGO_URL).
 */
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { promisify } from 'node:util';
import {
  createTestMongo,
  createTestPostgres,
  describeIfServer,
  requireServerUrl,
  type TestMongo,
  type TestPostgres,
} from '@ecom/infrastructure/testing';
import { removeBusNamespace } from '@ecom/test-support';
import { attribute, hex, startOtlpReceiver, type OtlpSpan } from './otlp-receiver';

const ROOT = join(__dirname, '..', '..', '..');

async function runChild(env: Record<string, string>, arg: string) {
  const { stdout } = await promisify(execFile)(
    join(ROOT, 'node_modules', '.bin', 'tsx'),
    [
      '--tsconfig',
      join(ROOT, 'platform', 'tsconfig.run.json'),
      join(__dirname, 'driver-child.ts'),
      arg,
    ],
    {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', LOG_LEVEL: 'silent', ...env },
      timeout: 90_000,
    },
  );
  return JSON.parse(stdout.trim().split('\n').at(-1)!) as Record<string, boolean>;
}

describeIfServer(
  'amqp',
  'driver instrumentations (real PostgreSQL, Redis, RabbitMQ, MongoDB)',
  (amqpUrl) => {
    let receiver: Awaited<ReturnType<typeof startOtlpReceiver>>;
    let pg: TestPostgres;
    let mongo: TestMongo;
    let env: Record<string, string>;

    beforeAll(async () => {
      receiver = await startOtlpReceiver();
      pg = await createTestPostgres('driver_spans');
      mongo = await createTestMongo('driver_spans');
      env = {
        POSTGRES_URL: pg.url,
        REDIS_URL: requireServerUrl('redis') ?? 'redis://127.0.0.1:6379',
        AMQP_URL: amqpUrl,
        MONGO_URL: mongo.url,
        BUS_PREFIX: `driver-${randomUUID().slice(0, 8)}`,
      };
    }, 60_000);

    afterAll(async () => {
      await receiver?.close();
      await pg?.cleanup();
      await mongo?.cleanup();
      // The child's queues and streams, which would otherwise outlive every run.
      if (env) {
        await removeBusNamespace('rabbitmq', amqpUrl, env.BUS_PREFIX!);
        await removeBusNamespace('redis', env.REDIS_URL!, env.BUS_PREFIX!);
      }
    });

    it('off: without an OTLP endpoint no driver is patched', async () => {
      expect(await runChild(env, 'report')).toEqual({ pg: false, ioredis: false, traced: false });
    }, 60_000);

    it('OTEL_NODE_DISABLED_INSTRUMENTATIONS leaves the drivers it names alone', async () => {
      const report = await runChild(
        {
          ...env,
          OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
          OTEL_NODE_DISABLED_INSTRUMENTATIONS: 'pg',
        },
        'report',
      );
      expect(report).toEqual({ pg: false, ioredis: true, traced: false });
    }, 60_000);

    it("on: each store and broker call is a span under the request's, in the caller's trace", async () => {
      const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
      const parent = '00f067aa0ba902b7';
      const report = await runChild(
        { ...env, OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url },
        `00-${traceId}-${parent}-01`,
      );
      expect(report).toEqual({ pg: true, ioredis: true, traced: true });

      const spans = receiver.spans().filter((s) => hex(s.traceId) === traceId);
      const byId = new Map(spans.map((s) => [hex(s.spanId), s]));
      const server = spans.find((s) => s.name === 'GET /work');
      expect(server).toMatchObject({ service: 'driver-child', kind: 2 });
      expect(hex(server!.parentSpanId)).toBe(parent);
      /** True when `span` descends from the request's server span. */
      const underServer = (span: OtlpSpan): boolean => {
        let current: OtlpSpan | undefined = span;
        for (let depth = 0; current && depth < 10; depth += 1) {
          if (current === server) return true;
          current = byId.get(hex(current.parentSpanId));
        }
        return false;
      };
      const system = (s: OtlpSpan) =>
        attribute(s.attributes, 'db.system.name')?.stringValue ??
        attribute(s.attributes, 'db.system')?.stringValue ??
        attribute(s.attributes, 'messaging.system')?.stringValue;

      const pgQuery = spans.find((s) => system(s) === 'postgresql' && s.kind === 3);
      const redisCall = spans.find((s) => system(s) === 'redis');
      const mongoCall = spans.find((s) => system(s) === 'mongodb' && s.kind === 3);
      const handler = spans.find(
        (s) => attribute(s.attributes, 'express.type')?.stringValue === 'request_handler',
      );
      for (const [what, span] of Object.entries({ pgQuery, redisCall, mongoCall, handler })) {
        expect({ what, found: Boolean(span) }).toEqual({ what, found: true });
        expect({ what, underServer: underServer(span!) }).toEqual({ what, underServer: true });
      }
      // The broker's own publish and consume spans join the event's trace: the publish under
      // the bus's `publish order.created` span, the delivery after it.
      const amqpPublish = spans.find((s) => system(s) === 'rabbitmq' && s.kind === 4);
      const amqpConsume = spans.find((s) => system(s) === 'rabbitmq' && s.kind === 5);
      expect(amqpPublish && amqpConsume).toBeTruthy();
      const producer = spans.find((s) => s.name === 'publish order.created');
      expect(hex(amqpPublish!.parentSpanId)).toBe(hex(producer!.spanId));
      expect(underServer(amqpConsume!)).toBe(true);
    }, 120_000);
  },
);
