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
import type { EventEnvelope } from '@ecom/common/bus';
import { Saga, address, bearer, customer, type BusKind } from '../../../e2e/test/saga/harness';

const N = Number(process.env.BENCH_ORDERS ?? 300);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 20);
const ADAPTERS = (process.env.BENCH_ADAPTERS ?? 'memory,redis,rabbitmq').split(',') as BusKind[];
const PRODUCTS = 20;
const LATENCY_ORDERS = Number(process.env.BENCH_LATENCY_ORDERS ?? 30);

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

interface Phase {
  n: number;
  concurrency: number;
  confirmed: number;
  failed: number;
  wallMs: number;
  ordersPerSec: number;
  p50: number;
  p99: number;
  max: number;
  /** CPU time of this process (all three services, the stand-in, the bench clients) per confirmed order. */
  cpuMsPerOrder: number;
}

/** Sends n orders with `concurrency` clients and waits until each is confirmed or failed. */
class Timer {
  private readonly sent = new Map<string, number>();
  private readonly early = new Map<string, number>();
  private latencies: number[] = [];
  private failed = 0;
  private expected = 0;
  private done: () => void = () => undefined;

  onEvent(event: EventEnvelope): void {
    const orderId = (event.data as { orderId?: string }).orderId;
    if (!orderId) return;
    const started = this.sent.get(orderId);
    if (started === undefined) {
      // Seen before the POST's response was read: settled when the response arrives.
      if (event.eventType === 'order.confirmed') this.early.set(orderId, performance.now());
      return;
    }
    if (event.eventType === 'order.confirmed') {
      this.latencies.push(performance.now() - started);
      this.sent.delete(orderId);
      this.settle();
    } else if (event.eventType === 'order.failed' || event.eventType === 'order.cancelled') {
      this.failed += 1;
      this.sent.delete(orderId);
      this.settle();
    }
  }

  private settle(): void {
    if (this.latencies.length + this.failed >= this.expected) this.done();
  }

  async run(saga: Saga, products: string[], n: number, concurrency: number): Promise<Phase> {
    this.latencies = [];
    this.failed = 0;
    this.expected = n;
    const allDone = new Promise<void>((resolve) => (this.done = resolve));
    const auth = bearer(customer);
    let next = 0;
    const started = performance.now();
    const cpuStart = process.cpuUsage();
    const worker = async () => {
      while (next < n) {
        const i = next++;
        const t0 = performance.now();
        const res = await fetch(`${saga.order.url}/api/orders`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: auth },
          body: JSON.stringify({
            items: [{ productId: products[i % products.length], quantity: 1 }],
            payment: { method: 'card', token: 'tok_visa' },
            shippingAddress: address,
          }),
        });
        const body = (await res.json()) as { id?: string };
        if (res.status !== 201 || !body.id) {
          this.failed += 1;
          this.settle();
          continue;
        }
        const seen = this.early.get(body.id);
        if (seen !== undefined) {
          this.latencies.push(seen - t0);
          this.settle();
        } else {
          this.sent.set(body.id, t0);
        }
        // Closed loop at concurrency 1: the next order only after this one is confirmed.
        if (concurrency === 1) {
          while (this.sent.has(body.id)) await new Promise((r) => setTimeout(r, 2));
        }
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
    const timeout = setTimeout(() => this.done(), 120_000);
    await allDone;
    clearTimeout(timeout);
    const wallMs = performance.now() - started;
    const cpu = process.cpuUsage(cpuStart);
    const sorted = [...this.latencies].sort((a, b) => a - b);
    return {
      n,
      concurrency,
      confirmed: sorted.length,
      failed: this.failed,
      wallMs,
      ordersPerSec: sorted.length / (wallMs / 1000),
      p50: percentile(sorted, 50),
      p99: percentile(sorted, 99),
      max: sorted[sorted.length - 1] ?? NaN,
      cpuMsPerOrder: (cpu.user + cpu.system) / 1000 / Math.max(1, sorted.length),
    };
  }
}

interface Result {
  kind: BusKind;
  latency: Phase;
  load: Phase;
}

async function runAdapter(kind: BusKind): Promise<Result | undefined> {
  const url =
    kind === 'redis' ? process.env.REDIS_URL : kind === 'rabbitmq' ? process.env.AMQP_URL : '';
  if (url === undefined) {
    console.log(`skipping ${kind}: ${kind === 'redis' ? 'REDIS_URL' : 'AMQP_URL'} is not set`);
    return undefined;
  }
  const timer = new Timer();
  const saga = new Saga({
    kind,
    label: `bench_${kind}`,
    url: url || undefined,
    captureLogs: false,
    onEvent: (event) => timer.onEvent(event),
  });
  await saga.start();
  try {
    const products: string[] = [];
    for (let i = 0; i < PRODUCTS; i++) products.push(await saga.createProduct(1_000_000, 9.99));
    await timer.run(saga, products, 5, 1); // warm-up (connections, JIT), not reported
    const latency = await timer.run(saga, products, LATENCY_ORDERS, 1);
    const load = await timer.run(saga, products, N, CONCURRENCY);
    return { kind, latency, load };
  } finally {
    await saga.close();
  }
}

function machine(): string {
  const cpus = os.cpus();
  const load = os
    .loadavg()
    .map((l) => l.toFixed(1))
    .join(' / ');
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
      for (const [name, p] of [
        ['one at a time', r.latency],
        ['under load', r.load],
      ] as const) {
        console.log(
          `${kind} ${name}: ${p.confirmed}/${p.n} confirmed, ${p.ordersPerSec.toFixed(1)} orders/s, p50 ${p.p50.toFixed(0)} ms, p99 ${p.p99.toFixed(0)} ms`,
        );
      }
      results.push(r);
    }
  }
  const row = (r: Result, name: string, p: Phase) =>
    `| ${LABEL[r.kind]} | ${name} | ${p.confirmed} / ${p.n}${p.failed ? ` (${p.failed} failed)` : ''} | ${(p.wallMs / 1000).toFixed(1)} s | ${p.ordersPerSec.toFixed(1)} | ${p.p50.toFixed(0)} ms | ${p.p99.toFixed(0)} ms | ${p.max.toFixed(0)} ms | ${p.cpuMsPerOrder.toFixed(0)} ms |`;
  const rows = results
    .flatMap((r) => [
      row(r, '1 client, closed loop', r.latency),
      row(r, `${CONCURRENCY} clients`, r.load),
    ])
    .join('\n');
  const section = `<!-- bench:order-saga:start -->
## Order saga

Measured ${new Date().toISOString()} on ${header}.
Script: \`npx tsx services/order/bench/saga-bench.ts\` (BENCH_ORDERS=${N}, BENCH_CONCURRENCY=${CONCURRENCY}, BENCH_LATENCY_ORDERS=${LATENCY_ORDERS}).

Product (MongoDB ${process.env.MONGO_URL ? 'server' : 'stand-in, in process'}), payment and order (each its own database on PostgreSQL at 127.0.0.1) run in one
Node process with the mock gateway; with Redis or RabbitMQ each service has its own connection. One-line orders
(spread over ${PRODUCTS} products), \`tok_visa\`. Latency: from sending \`POST /api/orders\` to \`order.confirmed\` seen on
the bus (order.created → reservation → charge → confirmation: four hops, each through a transactional outbox and
the bus). "1 client": one order at a time (the saga's own latency); "${CONCURRENCY} clients": ${N} orders with ${CONCURRENCY} in flight
(throughput = confirmed orders / wall time; latency then includes queueing). "CPU per order": user+system CPU
of the one process that runs all three services, the MongoDB stand-in and the clients, per confirmed order: when
it times the throughput the process gets less than one core of this shared machine (see the load average), so
the run is CPU-bound and the ceiling is about 1000 ms / (CPU per order) per core.

| bus | load | confirmed | wall time | orders/s confirmed | p50 POST→CONFIRMED | p99 | max | CPU per order |
|---|---|---|---|---|---|---|---|---|
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
