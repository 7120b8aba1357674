/**
 * The fleet benches' shared workload: a process fleet (`npm run fleet`) on the machine's
 * PostgreSQL, Redis and RabbitMQ, one-line orders placed through its gateways, and what they
 * cost: confirmed orders/s, POST→CONFIRMED latency, CPU per order per service (from /proc),
 * and the checks that nothing was lost or charged twice.
 */
import { rmSync } from 'node:fs';
import os from 'node:os';
import mongoose from 'mongoose';
import { freePort, queryOnce, removeBusNamespace } from '@ecom/test-support';
import { DEMO_ACCOUNTS } from '../src/demo';
import {
  fleetDatabaseNames,
  startProcessFleet,
  type ProcessFleet,
} from '../src/fleet-processes/launcher';
import { SERVICE_NAMES, type ServiceName } from '../src/service-env';
import { mongoDatabaseUrl } from '../src/stores';
import { settledCharges } from './charge-check';
import { ownCpu } from './proc-cpu';

const RUN_LIMIT_MS = 180_000;
/** Every process of the fleet, in its start order. */
export const SERVICES: ServiceName[] = SERVICE_NAMES;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export const query = queryOnce;

/** CPU seconds (user + system) a process has used so far; 0 once it is gone. */
function cpuSeconds(pid: number): number {
  try {
    return ownCpu(pid);
  } catch {
    return 0;
  }
}

// The last reading of each process: a replica killed mid-run keeps the CPU it had used.
const lastCpu = new Map<number, number>();

export function cpuByService(fleet: ProcessFleet): Record<ServiceName, number> {
  const read = (pid: number) => {
    const now = cpuSeconds(pid);
    const seen = Math.max(now, lastCpu.get(pid) ?? 0);
    lastCpu.set(pid, seen);
    return seen;
  };
  return Object.fromEntries(
    SERVICES.map((s) => [s, fleet.replicas[s].reduce((t, r) => t + read(r.process.pid), 0)]),
  ) as Record<ServiceName, number>;
}

export async function api<T>(
  base: string,
  method: string,
  route: string,
  body?: unknown,
  token?: string,
  key?: string,
) {
  const res = await fetch(`${base}${route}`, {
    method,
    headers: {
      'content-type': 'application/json',
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(key ? { 'idempotency-key': key } : {}),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(15_000),
  });
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : undefined) as T };
}

export const quantile = (sorted: number[], q: number) =>
  sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]! : NaN;

export interface RunResult {
  label: string;
  confirmed: number;
  final: number;
  perSecond: number;
  p50: number;
  p99: number;
  cpuMsPerOrder: Record<ServiceName, number>;
  problems: string[];
}

/**
 * Places `orders` orders (`inFlight` at a time, round-robin over the gateways) and measures;
 * `kill` runs when a third of them are placed.
 */
export async function placeOrders(
  fleet: ProcessFleet,
  label: string,
  options: { orders: number; inFlight: number; kill?: () => Promise<void> },
): Promise<RunResult> {
  const { orders, inFlight, kill } = options;
  const gw = fleet.gatewayUrls;
  const login = await api<{ accessToken: string }>(gw[0]!, 'POST', '/api/auth/login', {
    email: DEMO_ACCOUNTS.customer.email,
    password: DEMO_ACCOUNTS.customer.password,
  });
  if (login.status !== 200) throw new Error(`login answered ${login.status}`);
  const token = login.body.accessToken;
  const list = await api<{ items: { id: string; inventory: { available: number } }[] }>(
    gw[0]!,
    'GET',
    '/api/products?inStock=true&limit=50',
  );
  // Products with ample stock, so running out does not decide the figures.
  const productIds = list.body.items.filter((p) => p.inventory.available >= 30).map((p) => p.id);
  const runId = `${label.replace(/\W/g, '')}-${Date.now().toString(36)}`;
  const placedAt = new Map<string, number>();
  const cpuBefore = cpuByService(fleet);
  const sampler = setInterval(() => cpuByService(fleet), 250);
  const started = Date.now();
  let next = 0;
  const worker = async () => {
    while (next < orders && Date.now() - started < RUN_LIMIT_MS) {
      const n = next++;
      if (kill && n === Math.floor(orders / 3)) void kill();
      const t = Date.now();
      for (let attempt = 0; attempt < 20; attempt++) {
        const res = await api<{ id: string }>(
          gw[n % gw.length]!,
          'POST',
          '/api/orders',
          {
            items: [{ productId: productIds[n % productIds.length], quantity: 1 }],
            payment: { method: 'card', token: 'tok_visa' },
            shippingAddress: {
              name: 'Bench',
              line1: '1 Main St',
              city: 'Springfield',
              postalCode: '12345',
              country: 'US',
            },
          },
          token,
          `${runId}-${n}`,
        ).catch(() => ({ status: 0, body: { id: '' } }));
        if (res.status === 201 || res.status === 200) {
          placedAt.set(res.body.id, t);
          break;
        }
        await sleep(300);
      }
    }
  };
  await Promise.all(Array.from({ length: inFlight }, worker));
  const ids = [...placedAt.keys()];
  // Wait for every order to be final (or the run's bound).
  let statuses: { id: string; status: string }[] = [];
  while (Date.now() - started < RUN_LIMIT_MS) {
    statuses = await query(fleet.orderDbUrl, 'SELECT id, status FROM orders WHERE id = ANY($1)', [
      ids,
    ]);
    if (statuses.every((s) => ['CONFIRMED', 'FAILED', 'CANCELLED'].includes(s.status))) break;
    await sleep(250);
  }
  clearInterval(sampler);
  const cpuAfter = cpuByService(fleet);
  const confirmedAt = await query<{ order_id: string; at: Date }>(
    fleet.orderDbUrl,
    `SELECT order_id, at FROM order_status_history WHERE to_status = 'CONFIRMED' AND order_id = ANY($1)`,
    [ids],
  );
  const latencies = confirmedAt
    .map((r) => r.at.getTime() - placedAt.get(r.order_id)!)
    .sort((a, b) => a - b);
  const lastConfirmed = Math.max(...confirmedAt.map((r) => r.at.getTime()));
  const confirmed = confirmedAt.length;

  // What must hold whatever was killed.
  const problems: string[] = [];
  const notFinal = statuses.filter((s) => !['CONFIRMED', 'FAILED', 'CANCELLED'].includes(s.status));
  if (ids.length < orders) problems.push(`${orders - ids.length} orders never accepted`);
  if (notFinal.length) problems.push(`${notFinal.length} orders not final`);
  // Once final, a failed order's refund may still be on its way: settledCharges waits for it.
  problems.push(...(await settledCharges(fleet, ids, 30_000)).problems);

  const cpuMsPerOrder = Object.fromEntries(
    SERVICES.map((s) => [s, confirmed ? ((cpuAfter[s] - cpuBefore[s]) * 1000) / confirmed : NaN]),
  ) as Record<ServiceName, number>;
  return {
    label,
    confirmed,
    final: statuses.length - notFinal.length,
    perSecond: confirmed / ((lastConfirmed - started) / 1000),
    p50: quantile(latencies, 0.5),
    p99: quantile(latencies, 0.99),
    cpuMsPerOrder,
    problems,
  };
}

/** A fleet of `replicas` processes per service on the machine's servers, for `body`, then gone. */
export async function withFleet<T>(
  replicas: number,
  namespace: string,
  body: (f: ProcessFleet) => Promise<T>,
  extraEnv: NodeJS.ProcessEnv = {},
) {
  const env: NodeJS.ProcessEnv = {
    ...Object.fromEntries(
      Object.entries(process.env).filter(
        ([k]) => !['MONGO_URL', 'BLOCKCHAIN_RPC_URL', 'EVENT_BUS'].includes(k),
      ),
    ),
    LOG_LEVEL: 'error',
    BCRYPT_ROUNDS: '4',
    RATE_LIMIT_POINTS: '10000000',
    RATE_LIMIT_AUTH_POINTS: '10000000',
    RATE_LIMIT_PAYMENT_POINTS: '10000000',
    RECONCILE_INTERVAL_MS: '2000',
    RECONCILE_AFTER_MS: '5000',
    SWEEP_INTERVAL_MS: '2000',
    ...extraEnv,
  };
  const dataDir = `${os.tmpdir()}/ecom-${namespace}`;
  const fleet = await startProcessFleet({
    replicas: {
      auth: replicas,
      product: replicas,
      comments: replicas,
      payment: replicas,
      order: replicas,
      notification: replicas,
      gateway: replicas,
    },
    env,
    namespace,
    portOf: () => freePort(),
    mongoPort: await freePort(),
    chainPort: await freePort(),
    dataDir,
    print: () => undefined,
  });
  let done = false;
  try {
    const result = await body(fleet);
    done = true;
    return result;
  } finally {
    await fleet.stop();
    for (const db of fleetDatabaseNames(namespace)) {
      await query(process.env.POSTGRES_URL!, `DROP DATABASE IF EXISTS "${db}" WITH (FORCE)`);
    }
    await removeBusNamespace('rabbitmq', process.env.AMQP_URL!, namespace);
    await removeBusNamespace('redis', process.env.REDIS_URL!, namespace);
    // The processes' logs, the MongoDB stand-in's journal, the keys: a few MB a run. Kept when
    // the bench failed, for its logs.
    if (done) rmSync(dataDir, { recursive: true, force: true });
  }
}

/** The milestones of one order's saga, in order, with what each one reads. */
export const PATH_MILESTONES = [
  ['order begins its write', 'orders.created_at: the start of the POST’s transaction'],
  ['payment hears of it', 'payments.created_at: its first transaction for the order'],
  ['stock reserved', 'the reservation’s createdAt in product'],
  ['order PAYMENT_PROCESSING', 'its history row: order took inventory.reserved'],
  ['charge sent', 'payment_attempts.created_at: payment took inventory.reserved'],
  ['charge answered', 'payment_attempts.completed_at'],
  ['CONFIRMED', 'its history row: order took payment.completed'],
] as const;

export type PathMilestone = (typeof PATH_MILESTONES)[number][0];

/**
 * Where one order's time went: each milestone of its saga, in ms after the POST was sent, as
 * the fleet's databases recorded it (PostgreSQL's clock and product's, this machine's). For
 * orders placed one at a time, so nothing else waits in the queues.
 */
export async function orderPath(
  fleet: ProcessFleet,
  order: { id: string; sent: number },
): Promise<Partial<Record<PathMilestone, number>>> {
  const since = (at: Date | null | undefined) => (at ? at.getTime() - order.sent : undefined);
  const [created] = await query<{ created_at: Date }>(
    fleet.orderDbUrl,
    'SELECT created_at FROM orders WHERE id = $1',
    [order.id],
  );
  const history = await query<{ to_status: string; at: Date }>(
    fleet.orderDbUrl,
    'SELECT to_status, at FROM order_status_history WHERE order_id = $1 ORDER BY id',
    [order.id],
  );
  const [payment] = await query<{ created_at: Date; started: Date | null; done: Date | null }>(
    fleet.paymentDbUrl,
    `SELECT p.created_at, a.created_at AS started, a.completed_at AS done
       FROM payments p LEFT JOIN payment_attempts a ON a.payment_id = p.id AND a.attempt = 1
      WHERE p.order_id = $1`,
    [order.id],
  );
  const mongo = await mongoose
    .createConnection(mongoDatabaseUrl(fleet.mongoUrl, 'product_db'))
    .asPromise();
  try {
    const reservation = await mongo
      .collection<{ orderId: string; createdAt: Date }>('reservations')
      .findOne({ orderId: order.id });
    const moved = (to: string) => since(history.find((h) => h.to_status === to)?.at);
    return {
      'order begins its write': since(created?.created_at),
      'payment hears of it': since(payment?.created_at),
      'stock reserved': since(reservation?.createdAt),
      'order PAYMENT_PROCESSING': moved('PAYMENT_PROCESSING'),
      'charge sent': since(payment?.started),
      'charge answered': since(payment?.done),
      CONFIRMED: moved('CONFIRMED'),
    };
  } finally {
    await mongo.close();
  }
}
