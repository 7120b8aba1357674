import { EventEmitter } from 'node:events';
import client from 'prom-client';
import { createEvent, InMemoryEventBus, subscribeTracked } from '../src/bus';
import { createLogger } from '../src/logging';
import {
  anchoringMetrics,
  clientMetrics,
  consumerMetrics,
  counterFollowing,
  createMetrics,
  EVENT_LOOP_SAMPLE_MS,
  gaugeOnScrape,
  mongoPoolMetrics,
  outboxMetrics,
  pgPoolMetrics,
  sharedRead,
} from '../src/metrics';

const logger = createLogger('metrics-test', 'silent');

/** One sample's value from the registry's exposition (labels matched exactly as printed). */
async function sample(registry: client.Registry, series: string): Promise<number | undefined> {
  const text = await registry.metrics();
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line ? Number(line.slice(series.length + 1)) : undefined;
}

describe('scrape-time metrics', () => {
  it('a shared read runs once for the gauges of one scrape, and again after a failure', async () => {
    let reads = 0;
    let fail = false;
    const read = sharedRead(async () => {
      reads++;
      if (fail) throw new Error('down');
      return reads;
    });
    expect(await Promise.all([read(), read()])).toEqual([1, 1]);
    expect(reads).toBe(1);
    fail = true;
    const shared = sharedRead(async () => {
      reads++;
      if (fail) throw new Error('down');
      return reads;
    });
    await expect(shared()).rejects.toThrow('down');
    fail = false;
    await new Promise((r) => setImmediate(r));
    expect(await shared()).toBe(3);
  });

  it('a gauge whose read fails shows no stale value: NaN alone, no series with labels', async () => {
    const registry = new client.Registry();
    let value: number | Error = 4;
    const read = () => {
      if (value instanceof Error) throw value;
      return value;
    };
    gaugeOnScrape(registry, { name: 'x_items', help: 'x' }, (set) => set(read()));
    gaugeOnScrape(registry, { name: 'x_by_kind', help: 'x', labelNames: ['kind'] }, (set) =>
      set(read(), { kind: 'a' }),
    );
    expect(await sample(registry, 'x_items')).toBe(4);
    expect(await sample(registry, 'x_by_kind{kind="a"}')).toBe(4);
    value = new Error('store down');
    expect(await sample(registry, 'x_items')).toBeNaN();
    expect(await sample(registry, 'x_by_kind{kind="a"}')).toBeUndefined();
  });

  it('a counter following a running total adds only what it grew by', async () => {
    const registry = new client.Registry();
    let total = 5;
    counterFollowing(registry, { name: 'x_done_total', help: 'x' }, () => total);
    expect(await sample(registry, 'x_done_total')).toBe(5);
    total = 8;
    expect(await sample(registry, 'x_done_total')).toBe(8);
    expect(await sample(registry, 'x_done_total')).toBe(8);
  });
});

describe('store metrics', () => {
  it('reads a PostgreSQL pool: in use, idle, waiting, max', async () => {
    const registry = new client.Registry();
    const pool = { totalCount: 7, idleCount: 2, waitingCount: 3, options: { max: 10 } };
    pgPoolMetrics(registry, pool);
    expect(await sample(registry, 'db_pool_connections{store="postgres",state="in_use"}')).toBe(5);
    expect(await sample(registry, 'db_pool_connections{store="postgres",state="idle"}')).toBe(2);
    expect(await sample(registry, 'db_pool_waiting_requests{store="postgres"}')).toBe(3);
    expect(await sample(registry, 'db_pool_max_connections{store="postgres"}')).toBe(10);
  });

  it("counts a MongoDB pool from the driver's pool events", async () => {
    const registry = new client.Registry();
    const driver = Object.assign(new EventEmitter(), { options: { maxPoolSize: 20 } });
    mongoPoolMetrics(registry, { getClient: () => driver });
    for (const e of ['connectionCreated', 'connectionCreated', 'connectionCreated']) driver.emit(e);
    driver.emit('connectionCheckOutStarted');
    driver.emit('connectionCheckOutStarted');
    driver.emit('connectionCheckedOut');
    expect(await sample(registry, 'db_pool_connections{store="mongodb",state="in_use"}')).toBe(1);
    expect(await sample(registry, 'db_pool_connections{store="mongodb",state="idle"}')).toBe(2);
    expect(await sample(registry, 'db_pool_waiting_requests{store="mongodb"}')).toBe(1);
    driver.emit('connectionCheckedIn');
    driver.emit('connectionClosed');
    expect(await sample(registry, 'db_pool_connections{store="mongodb",state="in_use"}')).toBe(0);
    expect(await sample(registry, 'db_pool_connections{store="mongodb",state="idle"}')).toBe(2);
    expect(await sample(registry, 'db_pool_max_connections{store="mongodb"}')).toBe(20);
  });

  it("reports the outbox's unsent rows and the oldest one's age, 0 when caught up", async () => {
    const registry = new client.Registry();
    let backlog = { unsent: 3, oldestUnsentAt: new Date(Date.now() - 42_000) as Date | null };
    outboxMetrics(registry, async () => backlog);
    expect(await sample(registry, 'outbox_unsent_events')).toBe(3);
    expect(await sample(registry, 'outbox_lag_seconds')).toBeGreaterThanOrEqual(42);
    backlog = { unsent: 0, oldestUnsentAt: null };
    await new Promise((r) => setTimeout(r, 1100)); // past the shared read's lifetime
    expect(await sample(registry, 'outbox_lag_seconds')).toBe(0);
  });
});

describe('anchoring metrics', () => {
  it('reports the backlog, the lag while entries wait, and gas and entries per batch', async () => {
    const registry = new client.Registry();
    const status = { batchesAnchored: 2, recordsAnchored: 10, gasUsed: 120_000 };
    let health = {
      pendingRecords: 4,
      lastAnchoredAt: new Date(Date.now() + 60_000).toISOString() as string | null,
      consecutiveFailures: 1,
      writer: true,
    };
    anchoringMetrics(registry, { health: async () => health, status: () => status });
    expect(await sample(registry, 'anchoring_pending_records')).toBe(4);
    expect(await sample(registry, 'anchoring_consecutive_failures')).toBe(1);
    expect(await sample(registry, 'anchoring_writer')).toBe(1);
    expect(await sample(registry, 'anchoring_batches_total')).toBe(2);
    expect(await sample(registry, 'anchoring_records_total')).toBe(10);
    expect(await sample(registry, 'anchoring_gas_used_total')).toBe(120_000);
    health = { ...health, pendingRecords: 0 };
    await new Promise((r) => setTimeout(r, 1100));
    expect(await sample(registry, 'anchoring_lag_seconds')).toBe(0);
  });
});

describe('consumer metrics', () => {
  it('times each handled event and counts a failed delivery as a retry', async () => {
    const registry = new client.Registry();
    const bus = new InMemoryEventBus({
      logger,
      retry: { maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 1 },
    });
    let attempts = 0;
    await subscribeTracked({
      bus,
      logger,
      group: 'comments',
      eventTypes: ['product.deleted'],
      observer: consumerMetrics(registry),
      run: async () => {
        if (++attempts === 1) throw new Error('store hiccup');
        return 'handled';
      },
    });
    await bus.publish(createEvent('product-service', 'product.deleted', { productId: 'p1' }));
    await bus.idle();
    const labels = '{group="comments",event_type="product.deleted"}';
    expect(await sample(registry, `events_retried_total${labels}`)).toBe(1);
    expect(await sample(registry, `events_handler_duration_seconds_count${labels}`)).toBe(2);
    expect(await sample(registry, `events_processed_delay_seconds_count${labels}`)).toBe(2);
    expect(
      await sample(
        registry,
        'events_handled_total{group="comments",event_type="product.deleted",outcome="handled"}',
      ),
    ).toBe(1);
    await bus.close();
  });
});

describe('client metrics', () => {
  it("reports each watched client's breaker by upstream", async () => {
    const registry = new client.Registry();
    const clients = clientMetrics(registry);
    const breaker = { opened: false, halfOpen: false };
    clients.watch('product', { breaker });
    clients.watch('auth', { breaker: { opened: true, halfOpen: false } });
    expect(await sample(registry, 'client_circuit_open{upstream="product"}')).toBe(0);
    expect(await sample(registry, 'client_circuit_open{upstream="auth"}')).toBe(1);
    breaker.halfOpen = true;
    expect(await sample(registry, 'client_circuit_open{upstream="product"}')).toBe(0.5);
  });
});

describe('default metrics', () => {
  it('a blocked event loop shows in the lag metrics, sampled every EVENT_LOOP_SAMPLE_MS', async () => {
    const { registry } = createMetrics('lag-test');
    const wait = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
    const lagMax = () => sample(registry, 'nodejs_eventloop_lag_max_seconds{service="lag-test"}');
    await wait(EVENT_LOOP_SAMPLE_MS * 2);
    // A scrape resets the lag histogram: what follows is this block's alone.
    await registry.metrics();
    // Blocked for one and a half sampling periods: a sample falls due inside it and fires late.
    const blockMs = EVENT_LOOP_SAMPLE_MS * 1.5;
    const end = performance.now() + blockMs;
    while (performance.now() < end);
    await wait(EVENT_LOOP_SAMPLE_MS * 2);
    expect(await lagMax()).toBeGreaterThanOrEqual((blockMs - EVENT_LOOP_SAMPLE_MS) / 1000);
  });
});
