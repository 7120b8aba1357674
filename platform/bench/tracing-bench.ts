/**
 * What tracing costs: the fleet (every service and the gateway a process of its own, on the
 * machine's PostgreSQL, Redis and RabbitMQ) with tracing off, then exporting every trace, then
 * one in ten (OTEL_TRACES_SAMPLER_ARG=0.1), then every trace without the driver
 * instrumentations, to an OTLP receiver in this process that counts
 * what it is sent. Per mode: product reads through the gateway (autocannon) and the order saga
 * (one-line orders through the gateway, POST → CONFIRMED). Writes the "Tracing overhead"
 * section of docs/benchmarks.md.
 *
 *   POSTGRES_URL=... AMQP_URL=... REDIS_URL=... npx tsx --tsconfig platform/tsconfig.run.json platform/bench/tracing-bench.ts
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import autocannon from 'autocannon';
import { loadAverage, measuredOn, writeBenchSection } from '@ecom/test-support';
import type { ProcessFleet } from '../src/fleet-processes/launcher';
import { api, cpuByService, placeOrders, SERVICES, withFleet } from './fleet-workload';

const READ_SECONDS = Number(process.env.TRACING_BENCH_READ_SECONDS ?? 8);
const CONNECTIONS = 16;
const ORDERS = Number(process.env.TRACING_BENCH_ORDERS ?? 120);
const IN_FLIGHT = 8;

const MODES = [
  { label: 'off', env: {} },
  { label: 'on, 100 % sampled', env: { OTEL_TRACES_SAMPLER_ARG: '1' } },
  { label: 'on, 10 % sampled', env: { OTEL_TRACES_SAMPLER_ARG: '0.1' } },
  {
    label: 'on, 100 % sampled, no driver spans',
    env: {
      OTEL_TRACES_SAMPLER_ARG: '1',
      OTEL_NODE_DISABLED_INSTRUMENTATIONS: 'pg,mongodb,mongoose,ioredis,amqplib,express',
    },
  },
] as const;

/** An OTLP/HTTP receiver that only counts the spans it is sent. */
async function startSpanCounter() {
  const counter = { spans: 0, bytes: 0 };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      counter.bytes += body.length;
      try {
        const parsed = JSON.parse(body.toString()) as {
          resourceSpans?: { scopeSpans?: { spans?: unknown[] }[] }[];
        };
        for (const rs of parsed.resourceSpans ?? [])
          for (const ss of rs.scopeSpans ?? []) counter.spans += ss.spans?.length ?? 0;
      } catch {
        // Not JSON: counted in bytes only.
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    counter,
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}

const cpuTotal = (cpu: Record<string, number>) => SERVICES.reduce((t, s) => t + cpu[s]!, 0);

async function productReads(fleet: ProcessFleet) {
  const gateway = fleet.gatewayUrls[0]!;
  const list = await api<{ items: { id: string }[] }>(gateway, 'GET', '/api/products?limit=50');
  const paths = list.body.items.map((p) => `/api/products/${p.id}`);
  const load = (duration: number) =>
    autocannon({
      url: gateway,
      connections: CONNECTIONS,
      duration,
      requests: paths.map((path) => ({ method: 'GET', path })),
    });
  await load(2); // warm-up
  const before = cpuByService(fleet);
  const result = await load(READ_SECONDS);
  const after = cpuByService(fleet);
  const requests = result.requests.total;
  return {
    perSecond: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    errors: result.errors + result.non2xx,
    gatewayUs: ((after.gateway - before.gateway) * 1e6) / requests,
    allUs: ((cpuTotal(after) - cpuTotal(before)) * 1e6) / requests,
  };
}

async function main(): Promise<void> {
  for (const v of ['POSTGRES_URL', 'AMQP_URL', 'REDIS_URL']) {
    if (!process.env[v]) throw new Error(`${v} is not set: the tracing bench runs on real servers`);
  }
  const loadBefore = loadAverage();
  const receiver = await startSpanCounter();
  const stamp = Date.now().toString(36);
  const rows: string[] = [];
  try {
    for (const [i, mode] of MODES.entries()) {
      const env =
        mode.label === 'off'
          ? {}
          : {
              OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
              OTEL_BSP_SCHEDULE_DELAY: '1000',
              ...mode.env,
            };
      await withFleet(
        1,
        `tracebench${i}_${stamp}`,
        async (fleet) => {
          const reads = await productReads(fleet);
          await placeOrders(fleet, 'warm-up', { orders: 10, inFlight: IN_FLIGHT });
          const spansBefore = receiver.counter.spans;
          const saga = await placeOrders(fleet, mode.label, {
            orders: ORDERS,
            inFlight: IN_FLIGHT,
          });
          // The batch processors export within a second or so: count what arrives.
          await new Promise((resolve) => setTimeout(resolve, 3000));
          const spansPerOrder =
            (receiver.counter.spans - spansBefore) / Math.max(1, saga.confirmed);
          const sagaCpu = SERVICES.reduce((t, s) => t + saga.cpuMsPerOrder[s], 0);
          rows.push(
            `| ${mode.label} | ${Math.round(reads.perSecond).toLocaleString('en-US')} | ${reads.p50} | ${reads.p99} | ${Math.round(reads.gatewayUs)} | ${Math.round(reads.allUs)} | ${saga.confirmed}/${ORDERS} | ${saga.perSecond.toFixed(1)} | ${saga.p50} | ${saga.p99} | ${sagaCpu.toFixed(1)} | ${spansPerOrder.toFixed(1)} | ${reads.errors === 0 && saga.problems.length === 0 ? 'none' : `${reads.errors} read errors; ${saga.problems.join('; ')}`} |`,
          );
          process.stdout.write(`${rows.at(-1)}\n`);
        },
        env,
      );
    }
  } finally {
    await receiver.close();
  }
  const cpus = os.cpus().length;
  writeBenchSection('tracing', 'Tracing overhead', [
    `${measuredOn()}. Load average before: ${loadBefore}; after: ${loadAverage()} (${cpus} cores).`,
    'Script: `npx tsx --tsconfig platform/tsconfig.run.json platform/bench/tracing-bench.ts` (`platform/bench/tracing-bench.ts`).',
    `The fleet (one process per service and a gateway, on the machine's PostgreSQL, Redis and RabbitMQ; MongoDB stand-in as its own process), started afresh for each mode: tracing off; on, exporting every trace over OTLP/HTTP to a receiver in the bench process that counts the spans; on, keeping one trace in ten (\`OTEL_TRACES_SAMPLER_ARG=0.1\`, decided at the gateway, followed by every service); every trace again with the driver instrumentations off (\`OTEL_NODE_DISABLED_INSTRUMENTATIONS\`: only the kit's server, bus and fetch spans). Reads: GET /api/products/:id over 50 ids through the gateway, ${CONNECTIONS} connections from autocannon for ${READ_SECONDS} s after a 2 s warm-up (the gateway's response cache off by default, so each read reaches product). Saga: ${ORDERS} one-line orders (\`tok_visa\`), ${IN_FLIGHT} in flight, POST to the CONFIRMED row of the order's history, after 10 unmeasured. CPU from /proc, summed over the platform's processes (brokers and PostgreSQL not included).`,
    '',
    '| tracing | reads/s | read p50 ms | read p99 ms | gateway CPU µs/read | platform CPU µs/read | orders confirmed | orders/s | order p50 ms | order p99 ms | platform CPU ms/order | spans exported per order | problems |',
    '| --- | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | --- |',
    ...rows,
  ]);
}

main().catch((err: unknown) => {
  process.stderr.write(`tracing bench failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
