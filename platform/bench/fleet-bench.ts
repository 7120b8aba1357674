/**
 * Scale-out of the order saga: the fleet (`npm run fleet`) with 1 and then 2 processes per
 * service (and as many gateways), on the machine's RabbitMQ and PostgreSQL, orders placed
 * through the gateways. Prints confirmed orders/s, p50/p99 from POST to CONFIRMED (the
 * CONFIRMED row of order's status history), CPU per confirmed order per service (sum over its
 * replicas, from /proc/<pid>/stat), and the same with 2 replicas while one payment replica
 * and the anchoring order replica are killed mid-run, checking nothing is lost or charged
 * twice. Bounded: FLEET_BENCH_ORDERS orders (default 120) per run, 8 in flight, at most
 * 3 minutes a run.
 *
 *   POSTGRES_URL=... AMQP_URL=... REDIS_URL=... npm run bench --workspace platform
 */
import os from 'node:os';
import { loadAverage, measuredOn } from '@ecom/test-support';
import type { ProcessFleet, Replica } from '../src/fleet-processes/launcher';
import { placeOrders, query, SERVICES, withFleet, type RunResult } from './fleet-workload';

const ORDERS = Number(process.env.FLEET_BENCH_ORDERS ?? 120);
const IN_FLIGHT = 8;

const run = (fleet: ProcessFleet, label: string, kill?: () => Promise<void>, orders = ORDERS) =>
  placeOrders(fleet, label, { orders, inFlight: IN_FLIGHT, kill });

/** The order replica holding the anchoring writer lock, from pg_locks. */
async function anchoringWriter(fleet: ProcessFleet): Promise<Replica | undefined> {
  const rows = await query<{ application_name: string }>(
    fleet.orderDbUrl,
    `SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
      WHERE l.locktype = 'advisory' AND l.granted AND a.datname = current_database()`,
  );
  return fleet.replicas.order.find((r) => r.label === rows[0]?.application_name);
}

function report(r: RunResult): void {
  const cpu = SERVICES.map((s) => `${s} ${r.cpuMsPerOrder[s].toFixed(1)}`).join(', ');
  process.stdout.write(
    `| ${r.label} | ${r.confirmed}/${ORDERS} | ${r.perSecond.toFixed(1)} | ${r.p50} | ${r.p99} | ${cpu} | ${r.problems.length ? r.problems.join('; ') : 'none'} |\n`,
  );
}

async function main(): Promise<void> {
  for (const v of ['POSTGRES_URL', 'AMQP_URL', 'REDIS_URL']) {
    if (!process.env[v]) throw new Error(`${v} is not set: the fleet bench runs on real servers`);
  }
  process.stdout.write(`${measuredOn()}; load average before: ${loadAverage()}\n`);
  process.stdout.write(
    `${ORDERS} orders per run, ${IN_FLIGHT} in flight, RabbitMQ and PostgreSQL\n\n`,
  );
  process.stdout.write(
    '| fleet | confirmed | orders/s | p50 ms | p99 ms | CPU ms per confirmed order | problems |\n',
  );
  process.stdout.write('| --- | --- | --- | --- | --- | --- | --- |\n');
  const stamp = Date.now().toString(36);
  const results: RunResult[] = [];
  // Each fleet first takes a few orders unmeasured (code paths compiled, connections open).
  const warmUp = (f: ProcessFleet) => run(f, 'warm-up', undefined, 10);
  await withFleet(1, `fleetbench1_${stamp}`, async (f) => {
    await warmUp(f);
    results.push(await run(f, '1 replica each'));
    report(results.at(-1)!);
  });
  await withFleet(2, `fleetbench2_${stamp}`, async (f) => {
    await warmUp(f);
    results.push(await run(f, '2 replicas each'));
    report(results.at(-1)!);
    const writer = (await anchoringWriter(f)) ?? f.replicas.order[0]!;
    results.push(
      await run(f, `2 replicas, payment-1 and ${writer.label} killed`, async () => {
        await Promise.all([f.kill(f.replicas.payment[0]!), f.kill(writer)]);
      }),
    );
    report(results.at(-1)!);
  });
  process.stdout.write(`\nload average after: ${loadAverage()} (${os.cpus().length} cores)\n`);
  if (results.some((r) => r.problems.length > 0)) process.exitCode = 1;
}

main().catch((err: unknown) => {
  process.stderr.write(`fleet bench failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
