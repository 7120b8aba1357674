/**
 * Order saga benchmark: N orders (tok_visa) through product → payment → order over each bus
 * adapter, reporting confirmed orders per second and the time from sending POST /api/orders to
 * seeing order.confirmed on the bus (p50 / p99). Writes the "Order saga" section of
 * docs/benchmarks.md. Run: `npx tsx services/order/bench/saga-bench.ts` (or `npm run bench -w
 * services/order`) with POSTGRES_URL, and REDIS_URL / AMQP_URL for those adapters.
 * Options: BENCH_ORDERS (default 300), BENCH_CONCURRENCY (default 20), BENCH_ADAPTERS
 * (default memory,redis,rabbitmq).
 */
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Saga, address, bearer, customer, type BusKind } from '../test/saga/harness';

const N = Number(process.env.BENCH_ORDERS ?? 300);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 20);
const ADAPTERS = (process.env.BENCH_ADAPTERS ?? 'memory,redis,rabbitmq').split(',') as BusKind[];
const PRODUCTS = 20;

interface Result {
  kind: BusKind;
  confirmed: number;
  failed: number;
  wallMs: number;
  ordersPerSec: number;
  p50: number;
  p99: number;
  max: number;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

async function runAdapter(kind: BusKind): Promise<Result | undefined> {
  const url =
    kind === 'redis' ? process.env.REDIS_URL : kind === 'rabbitmq' ? process.env.AMQP_URL : '';
  if (url === undefined) {
    console.log(`skipping ${kind}: ${kind === 'redis' ? 'REDIS_URL' : 'AMQP_URL'} is not set`);
    return undefined;
  }
  const sent = new Map<string, number>();
  const early = new Map<string, number>();
  const latencies: number[] = [];
  let done!: () => void;
  const allDone = new Promise<void>((resolve) => (done = resolve));
  let settled = 0;
  const settle = () => {
    settled += 1;
    if (settled === N) done();
  };
  let failed = 0;
  const saga = new Saga({
    kind,
    label: `bench_${kind}`,
    url: url || undefined,
    captureLogs: false,
    onEvent: (event) => {
      const orderId = (event.data as { orderId?: string }).orderId;
      if (!orderId) return;
      const started = sent.get(orderId);
      if (started === undefined) {
        // Seen before the POST's response was read: settled when the response arrives.
        if (event.eventType === 'order.confirmed') early.set(orderId, performance.now());
        return;
      }
      if (event.eventType === 'order.confirmed') {
        latencies.push(performance.now() - started);
        sent.delete(orderId);
        settle();
      } else if (event.eventType === 'order.failed' || event.eventType === 'order.cancelled') {
        failed += 1;
        sent.delete(orderId);
        settle();
      }
    },
  });
  await saga.start();
  try {
    const products: string[] = [];
    for (let i = 0; i < PRODUCTS; i++) products.push(await saga.createProduct(1_000_000, 9.99));
    const auth = bearer(customer);
    // Warm-up (connections, JIT, caches), not timed.
    for (let i = 0; i < 5; i++) {
      const o = await saga.placeOrder([{ productId: products[i % PRODUCTS]!, quantity: 1 }], 'tok_visa');
      await saga.waitOrder(o.id, 'CONFIRMED');
    }
    let next = 0;
    const started = performance.now();
    const worker = async () => {
      while (next < N) {
        const i = next++;
        const t0 = performance.now();
        const res = await fetch(`${saga.order.url}/api/orders`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: auth },
          body: JSON.stringify({
            items: [{ productId: products[i % PRODUCTS], quantity: 1 }],
            payment: { method: 'card', token: 'tok_visa' },
            shippingAddress: address,
          }),
        });
        const body = (await res.json()) as { id?: string };
        if (res.status !== 201 || !body.id) {
          failed += 1;
          settle();
          continue;
        }
        const seen = early.get(body.id);
        if (seen !== undefined) {
          latencies.push(seen - t0);
          settle();
        } else {
          sent.set(body.id, t0);
        }
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    const timeout = setTimeout(() => done(), 120_000);
    await allDone;
    clearTimeout(timeout);
    const wallMs = performance.now() - started;
    const sorted = [...latencies].sort((a, b) => a - b);
    return {
      kind,
      confirmed: latencies.length,
      failed,
      wallMs,
      ordersPerSec: latencies.length / (wallMs / 1000),
      p50: percentile(sorted, 50),
      p99: percentile(sorted, 99),
      max: sorted[sorted.length - 1] ?? NaN,
    };
  } finally {
    await saga.close();
  }
}

function machine(): string {
  const cpus = os.cpus();
  const load = os.loadavg().map((l) => l.toFixed(1)).join(' / ');
  return `${cpus.length} × ${cpus[0]?.model.trim() ?? 'unknown CPU'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB RAM, ${os.type()} ${os.release()}, Node ${process.version}; load average at the start ${load}`;
}

const LABEL: Record<BusKind, string> = {
  memory: 'in-memory bus',
  redis: 'Redis Streams',
  rabbitmq: 'RabbitMQ',
};

async function main(): Promise<void> {
  const header = machine();
  const results: Result[] = [];
  for (const kind of ADAPTERS) {
    console.log(`running ${N} orders over ${kind}...`);
    const r = await runAdapter(kind);
    if (r) {
      console.log(
        `${kind}: ${r.confirmed}/${N} confirmed, ${r.ordersPerSec.toFixed(1)} orders/s, p50 ${r.p50.toFixed(0)} ms, p99 ${r.p99.toFixed(0)} ms`,
      );
      results.push(r);
    }
  }
  const rows = results
    .map(
      (r) =>
        `| ${LABEL[r.kind]} | ${r.confirmed} / ${N}${r.failed ? ` (${r.failed} failed)` : ''} | ${(r.wallMs / 1000).toFixed(1)} s | ${r.ordersPerSec.toFixed(1)} | ${r.p50.toFixed(0)} ms | ${r.p99.toFixed(0)} ms | ${r.max.toFixed(0)} ms |`,
    )
    .join('\n');
  const section = `<!-- bench:order-saga:start -->
## Order saga

Measured ${new Date().toISOString()} on ${header}.
Script: \`npx tsx services/order/bench/saga-bench.ts\` (BENCH_ORDERS=${N}, BENCH_CONCURRENCY=${CONCURRENCY}).

Product (MongoDB ${process.env.MONGO_URL ? 'server' : 'stand-in'}), payment and order (each its own database on PostgreSQL at 127.0.0.1) run in one
process with the mock gateway; with Redis or RabbitMQ each service has its own connection. ${N} orders of one line
(spread over ${PRODUCTS} products), \`tok_visa\`, ${CONCURRENCY} HTTP clients in flight. Latency: from sending
\`POST /api/orders\` to \`order.confirmed\` seen on the bus (order.created → reservation → charge → confirmation:
four hops through the outboxes and the bus). Throughput: confirmed orders / wall time of the timed run.

| bus | confirmed | wall time | orders/s confirmed | p50 POST→CONFIRMED | p99 | max |
|---|---|---|---|---|---|---|
${rows}
<!-- bench:order-saga:end -->`;
  const file = path.resolve(__dirname, '../../../docs/benchmarks.md');
  const current = existsSync(file) ? readFileSync(file, 'utf8') : '# Benchmarks\n';
  const pattern = /<!-- bench:order-saga:start -->[\s\S]*?<!-- bench:order-saga:end -->/;
  const next = pattern.test(current)
    ? current.replace(pattern, section)
    : `${current.trimEnd()}\n\n${section}\n`;
  writeFileSync(file, next);
  console.log(`wrote the Order saga section of ${file}`);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
