/**
 * Product service benchmark: catalog reads with and without the cache, and reservation
 * throughput under concurrent order.created events (with a correctness check).
 * Run: `npm run bench -w services/product` (REDIS_URL adds the Redis cache variant).
 * Writes its figures into docs/benchmarks.md between the product markers.
 */
import { randomUUID } from 'node:crypto';
import { createEvent, InMemoryEventBus } from '@ecom/common/bus';
import { testServiceEnv, tokenFor } from '@ecom/test-support';
import { loadAverage, measuredOn, writeBenchSection } from '@ecom/test-support';
import { startMongoStandIn } from '../../../infrastructure/src/mongo/server';
import { loadProductConfig } from '../src/config';
import { productService, type RunningProductService } from '../src/service';

// Per-event log lines would drown the figures (set LOG_LEVEL to see them).
process.env.LOG_LEVEL ??= 'silent';

const PRODUCTS = 1000;
const READS = 3000;
const CONCURRENCY = 10;
const ORDERS = 1000;

const auth = `Bearer ${tokenFor({ id: 'bench-seller', role: 'seller' }, '1h')}`;

interface Timing {
  perSecond: number;
  p50: number;
  p95: number;
  hitRatio: number;
}

async function timedReads(base: string, paths: () => string, total: number): Promise<Timing> {
  const latencies: number[] = [];
  let hits = 0;
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < total) {
        next++;
        const t = performance.now();
        const res = await fetch(base + paths());
        await res.arrayBuffer();
        if (res.status !== 200) throw new Error(`read failed: ${res.status}`);
        if (res.headers.get('x-cache') === 'HIT') hits++;
        latencies.push(performance.now() - t);
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  return {
    perSecond: Math.round(total / seconds),
    p50: latencies[Math.floor(latencies.length * 0.5)],
    p95: latencies[Math.floor(latencies.length * 0.95)],
    hitRatio: hits / total,
  };
}

async function main(): Promise<void> {
  const load = loadAverage();
  const standIn = await startMongoStandIn({ port: 0 });
  const url = `${standIn.url}/bench_product_${process.pid}`;
  const env = { ...testServiceEnv, MONGO_URL: url };
  const services: Record<string, { service: RunningProductService; bus: InMemoryEventBus }> = {};
  const variants: Array<[string, Record<string, string>]> = [
    ['no cache', { CACHE_DRIVER: 'off' }],
    ['memory cache', { CACHE_DRIVER: 'memory' }],
  ];
  if (process.env.REDIS_URL) {
    variants.push([
      'Redis cache',
      {
        CACHE_DRIVER: 'redis',
        REDIS_URL: process.env.REDIS_URL,
        CACHE_KEY_PREFIX: `bench:${randomUUID()}:`,
      },
    ]);
  }
  for (const [name, extra] of variants) {
    const bus = new InMemoryEventBus();
    services[name] = {
      service: await productService.start({ config: loadProductConfig({ ...env, ...extra }), bus }),
      bus,
    };
  }
  const writer = services['no cache'].service;

  // Seed the catalogue through the API.
  const ids: string[] = [];
  for (let i = 0; i < PRODUCTS; i++) {
    const res = await fetch(`${writer.url}/api/products`, {
      method: 'POST',
      headers: { authorization: auth, 'content-type': 'application/json' },
      body: JSON.stringify({
        name: `Bench product ${i}`,
        description: `item number ${i}`,
        price: 1 + (i % 500) / 4,
        inventory: 50,
      }),
    });
    if (res.status !== 201) throw new Error(`seed failed: ${res.status}`);
    ids.push(((await res.json()) as { id: string }).id);
  }

  const rows: string[] = [];
  for (const [name] of variants) {
    const { service } = services[name];
    // 100 hot products (a popular subset), 20 list queries.
    const detail = await timedReads(
      service.url,
      () => `/api/products/${ids[Math.floor(Math.random() * 100)]}`,
      READS,
    );
    const list = await timedReads(
      service.url,
      () => `/api/products?sort=price&limit=20&page=${1 + Math.floor(Math.random() * 20)}`,
      READS / 3,
    );
    rows.push(
      `| ${name} | detail (100 hot ids) | ${detail.perSecond.toLocaleString('en')} | ${detail.p50.toFixed(1)} | ${detail.p95.toFixed(1)} | ${(detail.hitRatio * 100).toFixed(0)}% |`,
      `| ${name} | list, sort=price, 20 pages of ${PRODUCTS} | ${list.perSecond.toLocaleString('en')} | ${list.p50.toFixed(1)} | ${list.p95.toFixed(1)} | ${(list.hitRatio * 100).toFixed(0)}% |`,
    );
  }

  // Reservations: ORDERS concurrent single-unit orders over 10 products holding 50 units each.
  const { bus } = services['memory cache'];
  const outcomes = { reserved: 0, rejected: 0 };
  await bus.subscribe({
    group: 'bench',
    eventTypes: ['inventory.reserved', 'inventory.rejected'],
    handler: async (e) => {
      if (e.eventType === 'inventory.reserved') outcomes.reserved++;
      else outcomes.rejected++;
    },
  });
  const hot = ids.slice(0, 10);
  const started = performance.now();
  await Promise.all(
    Array.from({ length: ORDERS }, (_, i) =>
      bus.publish(
        createEvent('bench', 'order.created', {
          orderId: `bench-${randomUUID()}`,
          userId: 'bench-customer',
          items: [{ productId: hot[i % hot.length], quantity: 1, unitPrice: 100, name: 'Bench' }],
          total: { amount: 100, currency: 'USD' },
          payment: null,
        }),
      ),
    ),
  );
  await bus.idle();
  const seconds = (performance.now() - started) / 1000;
  const expected = Math.min(ORDERS, hot.length * 50);
  if (outcomes.reserved !== expected || outcomes.reserved + outcomes.rejected !== ORDERS) {
    throw new Error(
      `reservation outcome wrong: ${JSON.stringify(outcomes)}, expected ${expected} reserved`,
    );
  }

  for (const { service, bus: b } of Object.values(services)) {
    await service.stop();
    await b.close();
  }
  await standIn.stop();

  writeBenchSection('product', 'Product service', [
    `${measuredOn()}. Load average at the start: ${load}.`,
    'Script: `npm run bench -w services/product` (`services/product/bench/catalog-bench.ts`): MongoDB stand-in and the service in one process,',
    `${PRODUCTS} products seeded through the API, ${CONCURRENCY} concurrent HTTP clients over 127.0.0.1.`,
    '',
    '| cache | read | requests/s | p50 ms | p95 ms | X-Cache HIT |',
    '|---|---|---:|---:|---:|---:|',
    ...rows,
    '',
    `Reservations: ${ORDERS} concurrent \`order.created\` (1 unit each) over 10 products with 50 units each → ${outcomes.reserved} reserved, ${outcomes.rejected} rejected (exactly the stock), ${Math.round(ORDERS / seconds).toLocaleString('en')} orders/s handled end to end (reservation lookup, conditional hold, reservation record, event published, cache invalidated).`,
  ]);
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
