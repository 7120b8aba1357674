/**
 * Event bus benchmark: `npx tsx common/bench/bus-bench.ts` (root script `bench:bus`).
 *
 * For each adapter (in-memory; Redis Streams and RabbitMQ when reachable at REDIS_URL /
 * AMQP_URL, defaulting to the local servers) it measures, with one publisher and one consumer
 * group in this process:
 * - burst: BENCH_EVENTS events published with 256 publishes in flight; events/s from the first
 *   publish to the last handled, and publish→handled latency (includes queueing under load);
 * - one at a time: each event published after the previous one was handled (a saga step):
 *   unloaded publish→handled latency;
 * - outbox: the same one at a time, but written with addToOutbox in a PostgreSQL transaction and
 *   sent by the started OutboxRelay of its pool right after the COMMIT: write→handled latency
 *   (POSTGRES_URL, default local).
 * Writes the figures to docs/benchmarks.md (section "Event bus"), machine and date included.
 */
import { cpus, loadavg, totalmem } from 'node:os';
import { randomBytes } from 'node:crypto';
import Redis from 'ioredis';
import { Client } from 'pg';
import { createEvent, InMemoryEventBus, type EventBus } from '../src/bus';
import { RabbitMqEventBus } from '../src/bus/rabbitmq';
import { RedisStreamsEventBus } from '../src/bus/redis';
import { createLogger } from '../src/logging';
import { writeBenchSection } from '@ecom/test-support';
import {
  addToOutbox,
  createPgPool,
  OutboxRelay,
  outboxMigrations,
  runMigrations,
  withTransaction,
} from '../src/postgres';

const EVENTS = Number(process.env.BENCH_EVENTS ?? 5000);
const SEQUENTIAL = Number(process.env.BENCH_SEQUENTIAL ?? 300);
const IN_FLIGHT = 256;
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const AMQP_URL = process.env.AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
const POSTGRES_URL = process.env.POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const logger = createLogger('bus-bench', 'error');
const prefix = `bench-${randomBytes(4).toString('hex')}`;

interface Adapter {
  name: string;
  make(): EventBus;
  cleanup(): Promise<void>;
}

interface Row {
  adapter: string;
  burstRate: number;
  burstP50: number;
  burstP99: number;
  seqP50: number;
  seqP99: number;
  outboxP50?: number;
  outboxP99?: number;
}

const nowMs = () => performance.timeOrigin + performance.now();

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

async function subscribeRecorder(bus: EventBus, type: string) {
  const latencies: number[] = [];
  let waiter: (() => void) | undefined;
  let target = 0;
  await bus.subscribe({
    group: `bench${randomBytes(3).toString('hex')}`,
    eventTypes: [type],
    handler: async (event) => {
      latencies.push(nowMs() - (event.data as { sentAt: number }).sentAt);
      if (latencies.length >= target) waiter?.();
    },
  });
  return {
    latencies,
    until(count: number): Promise<void> {
      target = count;
      if (latencies.length >= count) return Promise.resolve();
      return new Promise((resolve) => (waiter = resolve));
    },
  };
}

async function burst(adapter: Adapter): Promise<{ rate: number; p50: number; p99: number }> {
  const bus = adapter.make();
  const type = `bench.burst${letters()}`;
  const recorder = await subscribeRecorder(bus, type);
  await bus.health();
  // Warm-up (connections, JIT), not measured.
  for (let i = 0; i < 200; i++) await bus.publish(createEvent('bench', type, { sentAt: nowMs() }));
  await recorder.until(200);
  recorder.latencies.length = 0;
  const started = nowMs();
  let next = 0;
  const worker = async () => {
    while (next < EVENTS) {
      next++;
      await bus.publish(createEvent('bench', type, { sentAt: nowMs() }));
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
  await recorder.until(EVENTS);
  const seconds = (nowMs() - started) / 1000;
  await bus.close();
  const sorted = [...recorder.latencies].sort((a, b) => a - b);
  return { rate: EVENTS / seconds, p50: percentile(sorted, 50), p99: percentile(sorted, 99) };
}

async function oneAtATime(adapter: Adapter): Promise<{ p50: number; p99: number }> {
  const bus = adapter.make();
  const type = `bench.seq${letters()}`;
  const recorder = await subscribeRecorder(bus, type);
  await bus.health();
  for (let i = 1; i <= SEQUENTIAL + 20; i++) {
    await bus.publish(createEvent('bench', type, { sentAt: nowMs() }));
    await recorder.until(i);
  }
  await bus.close();
  const sorted = recorder.latencies.slice(20).sort((a, b) => a - b);
  return { p50: percentile(sorted, 50), p99: percentile(sorted, 99) };
}

async function outbox(adapter: Adapter, adminUrl: string): Promise<{ p50: number; p99: number }> {
  const dbName = `bench_outbox_${randomBytes(3).toString('hex')}`;
  const admin = new Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${dbName}`);
  const url = new URL(adminUrl);
  url.pathname = `/${dbName}`;
  const pool = createPgPool(url.toString(), 4);
  pool.on('error', () => undefined); // connections terminated by the DROP DATABASE at the end
  const bus = adapter.make();
  const relay = new OutboxRelay({ pool, bus, logger });
  try {
    await runMigrations(pool, outboxMigrations);
    const type = `bench.outbox${letters()}`;
    const recorder = await subscribeRecorder(bus, type);
    await bus.health();
    relay.start();
    await new Promise((r) => setTimeout(r, 200)); // LISTEN in place
    for (let i = 1; i <= SEQUENTIAL + 20; i++) {
      await withTransaction(pool, async (client) => {
        await addToOutbox(client, createEvent('bench', type, { sentAt: nowMs() }));
      });
      await recorder.until(i);
    }
    const sorted = recorder.latencies.slice(20).sort((a, b) => a - b);
    return { p50: percentile(sorted, 50), p99: percentile(sorted, 99) };
  } finally {
    await relay.stop();
    await bus.close();
    await pool.end();
    await admin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
    await admin.end();
  }
}

function letters(): string {
  return [...randomBytes(6)].map((b) => String.fromCharCode(97 + (b % 26))).join('');
}

async function reachable(check: () => Promise<void>): Promise<boolean> {
  try {
    await check();
    return true;
  } catch {
    return false;
  }
}

async function adapters(): Promise<Adapter[]> {
  const list: Adapter[] = [
    {
      name: 'in-memory',
      make: () => new InMemoryEventBus({ logger }),
      cleanup: async () => undefined,
    },
  ];
  const redisUp = await reachable(async () => {
    const r = new Redis(REDIS_URL, {
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
    });
    await r.connect();
    await r.ping();
    r.disconnect();
  });
  if (redisUp) {
    list.push({
      name: 'Redis Streams',
      make: () => new RedisStreamsEventBus({ url: REDIS_URL, service: 'bench', logger, prefix }),
      async cleanup() {
        const r = new Redis(REDIS_URL);
        const keys = await r.keys(`${prefix}:*`);
        if (keys.length) await r.del(...keys);
        r.disconnect();
      },
    });
  } else console.log(`Redis not reachable at ${REDIS_URL}: skipped`);
  const rabbitUp = await reachable(async () => {
    const amqp = await import('amqplib');
    const c = await amqp.connect(AMQP_URL);
    await c.close();
  });
  if (rabbitUp) {
    const groups: string[] = [];
    list.push({
      name: 'RabbitMQ',
      make: () => {
        const bus = new RabbitMqEventBus({ url: AMQP_URL, service: 'bench', logger, prefix });
        const subscribe = bus.subscribe.bind(bus);
        bus.subscribe = async (options) => {
          groups.push(options.group);
          return subscribe(options);
        };
        return bus;
      },
      async cleanup() {
        const amqp = await import('amqplib');
        const c = await amqp.connect(AMQP_URL);
        const ch = await c.createChannel();
        const probe = new RabbitMqEventBus({
          url: AMQP_URL,
          service: 'bench-cleanup',
          logger,
          prefix,
        });
        for (const group of groups) {
          await ch.deleteQueue(probe.queueName(group));
          await ch.deleteQueue(probe.deadLetterQueue(group));
          for (const delay of [200, 400, 800, 1600, 3200, 6400, 10000])
            await ch.deleteQueue(probe.retryQueue(group, delay));
        }
        await ch.deleteExchange(probe.exchange);
        await probe.close();
        await c.close();
      },
    });
  } else console.log(`RabbitMQ not reachable at ${AMQP_URL}: skipped`);
  return list;
}

function fmt(n: number | undefined, digits = 1): string {
  if (n === undefined) return 'n/a';
  return n.toLocaleString('en-US', {
    maximumFractionDigits: digits,
    minimumFractionDigits: digits,
  });
}

function writeSection(rows: Row[], withOutbox: boolean, load: number[]): void {
  const cpu = cpus();
  const lines = [
    `Measured ${new Date().toISOString()} on ${cpu[0]?.model.trim()} (${cpu.length} cores), ${Math.round(totalmem() / 2 ** 30)} GiB RAM, Node ${process.version}; Redis, RabbitMQ and PostgreSQL on 127.0.0.1. Load average at the start: ${load.map((l) => l.toFixed(1)).join(' / ')}.`,
    'Script: `npx tsx common/bench/bus-bench.ts` (`common/bench/bus-bench.ts`). One publisher and one consumer group in one process; latency is from the `publish` call to the start of the handler.',
    '',
    `- burst: ${EVENTS} events, ${IN_FLIGHT} publishes in flight (each awaited until the broker accepted it: XADD reply / publisher confirm); events/s from the first publish to the last event handled; latency includes queueing under that load.`,
    `- one at a time: ${SEQUENTIAL} events, each published after the previous was handled (a saga step).`,
    withOutbox
      ? `- outbox: ${SEQUENTIAL} events, each written with \`addToOutbox\` in its own PostgreSQL transaction (BEGIN, then the INSERT with the COMMIT) and published right after the COMMIT by the started \`OutboxRelay\` of the pool, which then marks the row sent (no NOTIFY, no claim); latency from before the INSERT to the handler, after the previous event was handled.`
      : '- outbox: not measured (PostgreSQL unreachable).',
    '',
    '| adapter | burst events/s | burst p50 ms | burst p99 ms | one at a time p50 ms | p99 ms | outbox write→handled p50 ms | p99 ms |',
    '|---|---:|---:|---:|---:|---:|---:|---:|',
    ...rows.map(
      (r) =>
        `| ${r.adapter} | ${fmt(r.burstRate, 0)} | ${fmt(r.burstP50)} | ${fmt(r.burstP99)} | ${fmt(r.seqP50, 2)} | ${fmt(r.seqP99, 2)} | ${fmt(r.outboxP50, 2)} | ${fmt(r.outboxP99, 2)} |`,
    ),
    '',
    'The real adapters are durable: every Redis publish is an XADD on the server and every RabbitMQ publish waits for the',
    "broker's confirm of a persistent message; the in-memory bus only serialises the envelope and schedules a timer.",
  ];
  writeBenchSection('event-bus', 'Event bus', lines);
}

async function main(): Promise<void> {
  const load = loadavg();
  const pgUp = await reachable(async () => {
    const c = new Client({ connectionString: POSTGRES_URL, connectionTimeoutMillis: 2000 });
    await c.connect();
    await c.end();
  });
  const rows: Row[] = [];
  for (const adapter of await adapters()) {
    try {
      const b = await burst(adapter);
      console.log(
        `${adapter.name}: burst ${fmt(b.rate, 0)} events/s, p50 ${fmt(b.p50)} ms, p99 ${fmt(b.p99)} ms`,
      );
      const s = await oneAtATime(adapter);
      console.log(
        `${adapter.name}: one at a time p50 ${fmt(s.p50, 2)} ms, p99 ${fmt(s.p99, 2)} ms`,
      );
      const o = pgUp ? await outbox(adapter, POSTGRES_URL) : undefined;
      if (o)
        console.log(
          `${adapter.name}: outbox write→handled p50 ${fmt(o.p50, 2)} ms, p99 ${fmt(o.p99, 2)} ms`,
        );
      rows.push({
        adapter: adapter.name,
        burstRate: b.rate,
        burstP50: b.p50,
        burstP99: b.p99,
        seqP50: s.p50,
        seqP99: s.p99,
        outboxP50: o?.p50,
        outboxP99: o?.p99,
      });
    } finally {
      await adapter.cleanup();
    }
  }
  writeSection(rows, pgUp, load);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
