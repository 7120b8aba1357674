/**
 * The order saga's latency against throughput, measured the way load-testers measure it: an
 * open-loop generator sends one-line orders (`tok_visa`) through the gateway on a fixed schedule
 * whatever the answers, at rising offered rates, so queueing shows in the latency instead of
 * slowing the sender. Latency runs from the moment an order was due to be sent to the CONFIRMED
 * row of its history. Per rate: achieved rate, p50/p90/p99/max, CPU per confirmed order per
 * process (from /proc), the brokers' and PostgreSQL's CPU beside it, and what else ran. Once
 * a platform's last rate has settled, every order placed on it is checked in its databases
 * (settledCharges): none lost (not final), none charged twice or not at all, no charge kept
 * for an order that did not go through. A breach is written in bold, and fails the run once
 * the figures are written.
 *
 * Platforms: the embedded run (`npm start`: one process, in-memory bus, stand-in stores), and
 * the fleet (every service and the gateway a process of its own, as in production) over
 * RabbitMQ and over Redis Streams, on the machine's PostgreSQL. A rate whose orders are not
 * all confirmed within the drain bound, or confirmed at under 90 % of the offered rate, is the
 * last one tried on that platform. First a warm-up, not measured (V8 compiles the hot paths:
 * at 20 orders/s a cold fleet's CPU per order fell by about a quarter over its first three or
 * four 20 s windows, and V8 was still compiling after them), in windows whose CPU per order is
 * reported, then one order at a time (closed loop), as before; for the fleet, where each of those
 * orders' time went (its saga's milestones as the databases recorded them, medians). Beside the
 * figures, the host's speed: the CPU time a fixed work takes in a process of its own before,
 * during each rate and after (platform/bench/host-speed.ts), since this kind of machine runs
 * the same work about 50 % slower from one minute to the next.
 *
 * Writes the "Order saga" section of docs/benchmarks.md and docs/saga-curve.svg.
 *   POSTGRES_URL=... AMQP_URL=... REDIS_URL=... npm run bench -w services/order
 * Options: SAGA_RATES (default 5,10,25,50,100,150,200), SAGA_SECONDS (per rate, default 15),
 * SAGA_WARMUP_SECONDS (default 120) and SAGA_WARMUP_RATE (orders/s, default 20),
 * SAGA_PLATFORMS (default embedded,rabbitmq,redis), SAGA_DRAIN_SECONDS (default 60),
 * SAGA_PROFILE=0 (no CPU profile run at the end), BENCH_DOCS=0 (print only; `npm run bench:ab`
 * runs two builds side by side this way). Options are checked first (whole numbers within
 * bounds, platforms from the list): a bad one stops the bench with one line naming it.
 */
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import Joi from 'joi';
import { loadConfigOrExit } from '@ecom/common/config';
import {
  freePort,
  loadAverage,
  measuredOn,
  runBench,
  writeBenchSection,
  writesDocs,
} from '@ecom/test-support';
import { DEMO_ACCOUNTS } from '../../../platform/src/demo';
import { spawnTs, type Spawned } from '../../../platform/src/fleet-processes/spawn';
import {
  api,
  orderPath,
  PATH_MILESTONES,
  quantile,
  withFleet,
  type PathMilestone,
} from '../../../platform/bench/fleet-workload';
import {
  checkCharges,
  settledCharges,
  type ChargeCheck,
} from '../../../platform/bench/charge-check';
import {
  cpuOfBackends,
  cpuOfCommands,
  cpuSince,
  machineCpu,
  treeCpu,
  type ProcessCpu,
} from '../../../platform/bench/proc-cpu';
import { startHostSpeedProbe, type HostSpeedProbe } from '../../../platform/bench/host-speed';

/** Comma-separated, each one of `words`. */
const listOf = (words: string) => new RegExp(`^(${words})(,(${words}))*$`);

// Checked before anything starts: a mistyped option is one line and exit 1, not a run that
// silently measures something else (a warm-up of NaN seconds is no warm-up).
const OPTIONS = loadConfigOrExit<{
  SAGA_RATES: string;
  SAGA_SECONDS: number;
  SAGA_WARMUP_SECONDS: number;
  SAGA_WARMUP_RATE: number;
  SAGA_DRAIN_SECONDS: number;
  SAGA_PLATFORMS: string;
}>(
  Joi.object({
    SAGA_RATES: Joi.string()
      .pattern(listOf('[1-9][0-9]{0,3}'), 'orders/s, whole numbers from 1 to 9999')
      .default('5,10,25,50,100,150,200'),
    SAGA_SECONDS: Joi.number().integer().min(1).max(3600).default(15),
    SAGA_WARMUP_SECONDS: Joi.number().integer().min(0).max(3600).default(120),
    SAGA_WARMUP_RATE: Joi.number().integer().min(1).max(9999).default(20),
    SAGA_DRAIN_SECONDS: Joi.number().integer().min(1).max(3600).default(60),
    SAGA_PLATFORMS: Joi.string()
      .pattern(listOf('embedded|rabbitmq|redis'), 'embedded, rabbitmq or redis')
      .default('embedded,rabbitmq,redis'),
    SAGA_PROFILE: Joi.string().valid('0', '1'),
  }),
);
const RATES = OPTIONS.SAGA_RATES.split(',').map(Number);
const SECONDS = OPTIONS.SAGA_SECONDS;
const WARMUP_SECONDS = OPTIONS.SAGA_WARMUP_SECONDS;
const WARMUP_RATE = OPTIONS.SAGA_WARMUP_RATE;
const DRAIN_MS = OPTIONS.SAGA_DRAIN_SECONDS * 1000;
const PLATFORMS = OPTIONS.SAGA_PLATFORMS.split(',');
const ONE_AT_A_TIME = 30;
const ROOT = path.resolve(__dirname, '../../..');
const SVG_FILE = path.join(ROOT, 'docs/saga-curve.svg');

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const ADDRESS = {
  name: 'Bench',
  line1: '1 Main St',
  city: 'Springfield',
  postalCode: '12345',
  country: 'US',
};

const SERVERS = { postgres: ['postgres'], rabbitmq: ['beam.smp'], redis: ['redis-server'] };

interface Target {
  label: string;
  gateway: string;
  /** The platform's Node processes, by name. */
  processes(): { name: string; pid: number }[];
  /** The prefix of the platform's own databases on a shared PostgreSQL (the fleet's). */
  databases?: string;
  /** The platform's order and payment databases, where what became of its orders is read. */
  stores: { orderDbUrl: string; paymentDbUrl: string };
  /** One order's saga milestones, ms after its POST was sent (the fleet's databases). */
  path?: (order: { id: string; sent: number }) => Promise<Partial<Record<PathMilestone, number>>>;
}

interface Snapshot {
  at: number;
  perProcess: Map<string, number>;
  servers: Record<keyof typeof SERVERS, ProcessCpu>;
  /** The PostgreSQL backends of the platform's own databases, part of servers.postgres. */
  ownBackends: ProcessCpu | null;
  machine: number;
  self: number;
}

function snapshot(target: Target): Snapshot {
  const perProcess = new Map<string, number>();
  for (const p of target.processes())
    perProcess.set(p.name, (perProcess.get(p.name) ?? 0) + treeCpu(p.pid));
  const usage = process.cpuUsage();
  return {
    at: Date.now(),
    perProcess,
    servers: {
      postgres: cpuOfCommands(SERVERS.postgres),
      rabbitmq: cpuOfCommands(SERVERS.rabbitmq),
      redis: cpuOfCommands(SERVERS.redis),
    },
    ownBackends: target.databases ? cpuOfBackends(target.databases) : null,
    machine: machineCpu(),
    self: (usage.user + usage.system) / 1e6,
  };
}

/** Node CPU ms per confirmed order, summed over the platform's processes. */
const nodeCpu = (r: Pick<RateResult, 'cpu'>) => [...r.cpu.values()].reduce((a, b) => a + b, 0);

interface RateResult {
  offered: number;
  sent: number;
  confirmed: number;
  achieved: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  /** CPU ms per confirmed order, by process. */
  cpu: Map<string, number>;
  servers: Record<keyof typeof SERVERS, number>;
  /** Of servers.postgres, the backends of the platform's own databases (NaN: not told apart). */
  ownBackends: number;
  /**
   * CPU ms per confirmed order of this process: the load generator, and for the fleet the
   * embedded chain its launcher runs (the anchorers' transactions land there).
   */
  bench: number;
  /** CPU ms per confirmed order taken by everything else on the machine (not the bench). */
  other: number;
  /** The fixed work's median CPU ms while the rate ran (host-speed.ts; null: no sample). */
  host: number | null;
  saturated: boolean;
  /** Where the orders not confirmed went: POSTs not accepted (no 201), orders that failed or
   * were cancelled, orders still open when the drain bound ran out, accepted orders the order
   * database lacks. */
  refused: number;
  failed: number;
  open: number;
  missing: number;
}

interface Session {
  token: string;
  products: string[];
  /** Every order accepted on this platform (warm-up, one at a time, rates), for the last check. */
  placed: string[];
}

async function prepare(target: Target): Promise<Session> {
  const login = async ({ email, password }: { email: string; password: string }) => {
    const res = await api<{ accessToken: string }>(target.gateway, 'POST', '/api/auth/login', {
      email,
      password,
    });
    if (res.status !== 200) throw new Error(`login answered ${res.status}`);
    return res.body.accessToken;
  };
  const seller = await login(DEMO_ACCOUNTS.seller);
  const products: string[] = [];
  for (let i = 0; i < 20; i++) {
    const res = await api<{ id: string }>(
      target.gateway,
      'POST',
      '/api/products',
      { name: `Saga bench ${i}`, price: 9.99, inventory: 1_000_000 },
      seller,
    );
    if (res.status !== 201) throw new Error(`product create answered ${res.status}`);
    products.push(res.body.id);
  }
  return { token: await login(DEMO_ACCOUNTS.customer), products, placed: [] };
}

/** POSTs one order; its id, or undefined when it was not accepted. */
async function postOrder(target: Target, session: Session, n: number, key: string) {
  const res = await api<{ id: string }>(
    target.gateway,
    'POST',
    '/api/orders',
    {
      items: [{ productId: session.products[n % session.products.length], quantity: 1 }],
      payment: { method: 'card', token: 'tok_visa' },
      shippingAddress: ADDRESS,
    },
    session.token,
    key,
  ).catch(() => undefined);
  if (!res || res.status !== 201) return undefined;
  session.placed.push(res.body.id);
  return res.body.id;
}

/** When each order was CONFIRMED (ms since the epoch), from its history; undefined if not yet. */
async function confirmedAt(target: Target, session: Session, ids: string[]) {
  const out = new Map<string, number>();
  let next = 0;
  const worker = async () => {
    while (next < ids.length) {
      const id = ids[next++]!;
      const res = await api<{ history: { to: string; at: string }[] }>(
        target.gateway,
        'GET',
        `/api/orders/${id}/history`,
        undefined,
        session.token,
      ).catch(() => undefined);
      const at = res?.body?.history?.find((h) => h.to === 'CONFIRMED')?.at;
      if (at) out.set(id, Date.parse(at));
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
  return out;
}

/** Waits until every order is final (CONFIRMED or FAILED), at most DRAIN_MS. */
async function drain(target: Target, session: Session, ids: string[], since: number) {
  let pending = ids;
  const confirmed = new Map<string, number>();
  while (pending.length && Date.now() - since < DRAIN_MS) {
    const seen = await confirmedAt(target, session, pending);
    for (const [id, at] of seen) confirmed.set(id, at);
    pending = pending.filter((id) => !confirmed.has(id));
    if (pending.length) await sleep(500);
  }
  return confirmed;
}

/** The saga's open states: an order in one of them has not reached its outcome yet. */
const OPEN_STATUSES = ['PENDING', 'AWAITING_PAYMENT', 'PAYMENT_PROCESSING'] as const;

/**
 * Waits until none of the customer's orders is open, at most until DRAIN_MS after `since`:
 * three counts per poll, not a read of every order, so the wait adds next to nothing to the
 * CPU being measured.
 */
async function settle(target: Target, session: Session, since: number): Promise<void> {
  const open = async () => {
    let count = 0;
    for (const status of OPEN_STATUSES) {
      const res = await api<{ total: number }>(
        target.gateway,
        'GET',
        `/api/orders?status=${status}&limit=1`,
        undefined,
        session.token,
      ).catch(() => undefined);
      // An unanswered count is not a settled saga.
      count += res?.status === 200 ? res.body.total : 1;
    }
    return count;
  };
  while ((await open()) > 0 && Date.now() - since < DRAIN_MS) await sleep(250);
}

/**
 * One offered rate. The CPU window closes when the sagas have settled; every order's history
 * (its CONFIRMED time) is read after that, so the bench's own reads, about 2 ms of gateway and
 * order CPU each, are not counted as the saga's. `settled` runs between the two (the profile
 * run stops its profilers there).
 */
async function openLoop(
  target: Target,
  session: Session,
  rate: number,
  settled: () => void = () => undefined,
  seconds = SECONDS,
): Promise<RateResult> {
  const total = Math.round(rate * seconds);
  const interval = 1000 / rate;
  const runId = `saga-${rate}-${Date.now().toString(36)}`;
  const dueAt = new Map<string, number>();
  const posts: Promise<void>[] = [];
  const before = snapshot(target);
  const start = Date.now() + 50;
  for (let i = 0; i < total; i++) {
    const due = start + i * interval;
    const wait = due - Date.now();
    if (wait > 1) await sleep(wait);
    posts.push(
      postOrder(target, session, i, `${runId}-${i}`).then((id) => {
        if (id) dueAt.set(id, due);
      }),
    );
  }
  await Promise.all(posts);
  const ids = [...dueAt.keys()];
  await settle(target, session, start + total * interval);
  const after = snapshot(target);
  settled();
  const confirmed = await confirmedAt(target, session, ids);
  const latencies = [...confirmed].map(([id, at]) => at - dueAt.get(id)!).sort((a, b) => a - b);
  // Where the unconfirmed orders went, from the databases: read after the CPU window, like the
  // histories (what became of their money is checked once all have settled: settledCharges).
  const check = await checkCharges(target.stores, ids);
  const lastConfirmed = Math.max(...confirmed.values());
  const achieved = confirmed.size / ((lastConfirmed - start) / 1000);
  const perOrder = (seconds: number) => (confirmed.size ? (seconds * 1000) / confirmed.size : NaN);
  const cpu = new Map<string, number>();
  for (const [name, s] of after.perProcess)
    cpu.set(name, perOrder(s - (before.perProcess.get(name) ?? 0)));
  const platformCpu =
    [...after.perProcess.values()].reduce((a, b) => a + b, 0) -
    [...before.perProcess.values()].reduce((a, b) => a + b, 0);
  const serverCpu = (k: keyof typeof SERVERS) => cpuSince(before.servers[k], after.servers[k]);
  const other =
    after.machine -
    before.machine -
    platformCpu -
    (after.self - before.self) -
    serverCpu('postgres') -
    serverCpu('rabbitmq') -
    serverCpu('redis');
  return {
    offered: rate,
    sent: total,
    confirmed: confirmed.size,
    achieved,
    p50: quantile(latencies, 0.5),
    p90: quantile(latencies, 0.9),
    p99: quantile(latencies, 0.99),
    max: latencies.at(-1) ?? NaN,
    cpu,
    servers: {
      postgres: perOrder(serverCpu('postgres')),
      rabbitmq: perOrder(serverCpu('rabbitmq')),
      redis: perOrder(serverCpu('redis')),
    },
    ownBackends:
      before.ownBackends && after.ownBackends
        ? perOrder(cpuSince(before.ownBackends, after.ownBackends))
        : NaN,
    bench: perOrder(after.self - before.self),
    other: perOrder(Math.max(0, other)),
    host: hostProbe?.medianBetween(before.at, after.at) ?? null,
    saturated: confirmed.size < ids.length || ids.length < total || achieved < 0.9 * rate,
    refused: total - ids.length,
    failed: check.closed,
    open: check.open,
    missing: check.missing,
  };
}

/** One order at a time: the saga's own latency, as the earlier figures measured it. */
/** The client's own milestone, beside those the databases recorded. */
const POST_ANSWERED = 'POST answered';
type Milestone = PathMilestone | typeof POST_ANSWERED;
/** The columns of the path table, in the order a saga usually passes them. */
const PATH_COLUMNS: Milestone[] = [
  PATH_MILESTONES[0][0],
  POST_ANSWERED,
  ...PATH_MILESTONES.slice(1).map(([name]) => name),
];

async function oneAtATime(target: Target, session: Session) {
  const latencies: number[] = [];
  const done: Array<{ id: string; sent: number; answered: number }> = [];
  for (let i = 0; i < ONE_AT_A_TIME; i++) {
    const sent = Date.now();
    const id = await postOrder(target, session, i, `single-${Date.now().toString(36)}-${i}`);
    const answered = Date.now() - sent;
    if (!id) continue;
    const confirmed = await drain(target, session, [id], Date.now());
    const at = confirmed.get(id);
    if (!at) continue;
    latencies.push(at - sent);
    done.push({ id, sent, answered });
  }
  // Read once all are done, so the reads add nothing to an order's time.
  const paths: Array<Partial<Record<Milestone, number>>> = [];
  if (target.path) {
    for (const o of done) paths.push({ ...(await target.path(o)), [POST_ANSWERED]: o.answered });
  }
  latencies.sort((a, b) => a - b);
  // Each milestone's median over the orders (a milestone one order lacks is left out for it).
  const path = paths.length
    ? PATH_COLUMNS.map((name): [Milestone, number] => {
        const seen = paths.map((p) => p[name]).filter((v): v is number => v !== undefined);
        return [
          name,
          quantile(
            seen.sort((a, b) => a - b),
            0.5,
          ),
        ];
      })
    : [];
  return {
    p50: quantile(latencies, 0.5),
    p99: quantile(latencies, 0.99),
    n: latencies.length,
    path,
  };
}

const BENCH_ENV: NodeJS.ProcessEnv = {
  LOG_LEVEL: 'error',
  BCRYPT_ROUNDS: '4',
  RATE_LIMIT_POINTS: '10000000',
  RATE_LIMIT_AUTH_POINTS: '10000000',
  RATE_LIMIT_PAYMENT_POINTS: '10000000',
  // The reconcilers and sweeps at the services' own intervals, as in production: the fleet
  // benches' 2 s (for replicas killed mid-run) scanned orders and payments 15 times as often.
  // An undefined value leaves the variable out of the children's environment.
  RECONCILE_INTERVAL_MS: undefined,
  RECONCILE_AFTER_MS: undefined,
  SWEEP_INTERVAL_MS: undefined,
};

interface PlatformResult {
  label: string;
  /** Node CPU ms per confirmed order of each warm-up window, in order. */
  warmup: number[];
  single: { p50: number; p99: number; n: number; path: Array<[Milestone, number]> };
  rates: RateResult[];
  /** Orders accepted on the platform, and the last check of all of them (settledCharges). */
  placed: number;
  ledger: ChargeCheck;
}

/** The warm-up runs in windows of this many seconds, each one's CPU per order reported. */
const WARMUP_WINDOW_SECONDS = 20;

/**
 * Orders at WARMUP_RATE for WARMUP_SECONDS, not measured: connections open, and V8 has compiled
 * the hot paths, as in a service that has been running (a short run otherwise measures the
 * compiler and code still in its first tiers). It runs in windows, and returns each window's
 * Node CPU per confirmed order, so the figures show whether the platform had settled.
 */
async function warmUp(target: Target, session: Session): Promise<number[]> {
  const perWindow: number[] = [];
  for (let left = WARMUP_SECONDS; left > 0; left -= WARMUP_WINDOW_SECONDS) {
    const seconds = Math.min(WARMUP_WINDOW_SECONDS, left);
    const r = await openLoop(target, session, WARMUP_RATE, undefined, seconds);
    perWindow.push(nodeCpu(r));
    process.stdout.write(
      `${target.label}: warm-up, ${r.confirmed}/${r.sent} orders at ${WARMUP_RATE}/s for ${seconds} s, ${perWindow.at(-1)!.toFixed(1)} ms of Node CPU per order (not measured)\n`,
    );
  }
  if (perWindow.length > 0) await sleep(2000);
  return perWindow;
}

async function measure(target: Target): Promise<PlatformResult> {
  const session = await prepare(target);
  const warmup = await warmUp(target, session);
  const single = await oneAtATime(target, session);
  process.stdout.write(
    `${target.label}: one at a time p50 ${single.p50} ms, p99 ${single.p99} ms${single.path.length ? `; medians: ${single.path.map(([name, v]) => `${name} ${ms(v)}`).join(', ')}` : ''}\n`,
  );
  const rates: RateResult[] = [];
  for (const rate of RATES) {
    const r = await openLoop(target, session, rate);
    rates.push(r);
    const cpuTotal = nodeCpu(r);
    process.stdout.write(
      `${target.label} @ ${rate}/s: ${r.confirmed}/${r.sent} confirmed, ${r.achieved.toFixed(1)}/s, p50 ${r.p50} p99 ${r.p99} ms, ${cpuTotal.toFixed(1)} ms CPU/order, host ${hostMs(r.host)} ms${r.saturated ? ' (saturated)' : ''}${outcome(r)}\n`,
    );
    if (r.saturated) break;
    await sleep(2000);
  }
  const ledger = await settledCharges(target.stores, session.placed, SETTLE_MS);
  process.stdout.write(`${target.label}: ${ledgerText(session.placed.length, ledger)}\n`);
  return { label: target.label, warmup, single, rates, placed: session.placed.length, ledger };
}

/** How long the last check waits for the platform's orders to be final (and refunds done). */
const SETTLE_MS = 300_000;

/** The last check's broken promises: anything not final by then is lost (or very late). */
function ledgerProblems(ledger: ChargeCheck): string[] {
  return [
    ...(ledger.open
      ? [`${ledger.open} orders not final ${SETTLE_MS / 1000} s after the last rate`]
      : []),
    ...ledger.problems,
  ];
}

/** The last check in words, broken promises in `mark` (bold in the docs). */
function ledgerText(placed: number, ledger: ChargeCheck, mark = ''): string {
  const broken = ledgerProblems(ledger);
  return `${placed} placed, ${ledger.confirmed} confirmed, ${ledger.closed} failed or cancelled: ${
    broken.length ? `${mark}${broken.join('; ')}${mark}` : 'all held'
  }`;
}

/** Where a rate's unconfirmed orders went, as a suffix ('' when all were confirmed). */
function outcome(r: Pick<RateResult, 'refused' | 'failed' | 'open' | 'missing'>): string {
  const counts = (
    [
      [r.refused, 'not accepted'],
      [r.failed, 'failed or cancelled'],
      [r.open, 'still open'],
      [r.missing, 'missing from the order database'],
    ] as const
  )
    .filter(([n]) => n > 0)
    .map(([n, what]) => `${n} ${what}`);
  return counts.length ? ` (${counts.join(', ')})` : '';
}

async function waitForPort(port: number, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const open = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, '127.0.0.1');
      socket.once('connect', () => (socket.destroy(), resolve(true)));
      socket.once('error', () => resolve(false));
    });
    if (open) return;
    await sleep(250);
  }
  throw new Error(`nothing listens on ${port}`);
}

/** `npm start` as a process of its own (its service ports are the fixed 3000-3006). */
async function withEmbedded<T>(body: (target: Target) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'saga-bench-'));
  const keep = ['PATH', 'HOME'];
  const orderDbPort = await freePort();
  const paymentDbPort = await freePort();
  const env: NodeJS.ProcessEnv = {
    ...Object.fromEntries(Object.entries(process.env).filter(([k]) => keep.includes(k))),
    ...BENCH_ENV,
    DATA_DIR: dir,
    MONGO_PORT: String(await freePort()),
    ORDER_DB_PORT: String(orderDbPort),
    PAYMENT_DB_PORT: String(paymentDbPort),
    NOTIFICATION_DB_PORT: String(await freePort()),
    MAIL_SMTP_PORT: String(await freePort()),
    MAIL_INBOX_PORT: String(await freePort()),
    CHAIN_PORT: String(await freePort()),
  };
  const busy = await new Promise<boolean>((resolve) => {
    const socket = net.connect(3000, '127.0.0.1');
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => resolve(false));
  });
  if (busy) throw new Error('port 3000 is taken: stop `npm start` before the embedded run');
  const child: Spawned = spawnTs('embedded', 'platform/src/start.ts', [], env, dir);
  try {
    await waitForPort(3000, 180_000);
    // The gateway listens before the demo data is seeded: wait for the demo customer.
    for (let i = 0; i < 240; i++) {
      const res = await api('http://127.0.0.1:3000', 'POST', '/api/auth/login', {
        email: DEMO_ACCOUNTS.customer.email,
        password: DEMO_ACCOUNTS.customer.password,
      }).catch(() => undefined);
      if (res?.status === 200) break;
      await sleep(500);
    }
    return await body({
      label: 'embedded (npm start, in-memory bus)',
      gateway: 'http://127.0.0.1:3000',
      // Its PGlite stand-ins, each serving its one database over the wire.
      stores: {
        orderDbUrl: `postgres://postgres@127.0.0.1:${orderDbPort}/order_db`,
        paymentDbUrl: `postgres://postgres@127.0.0.1:${paymentDbPort}/payment_db`,
      },
      processes: () => [{ name: 'platform', pid: child.pid }],
    });
  } finally {
    child.child.kill('SIGTERM');
    await Promise.race([child.exited, sleep(20_000)]);
  }
}

async function onFleet<T>(bus: 'rabbitmq' | 'redis', body: (t: Target) => Promise<T>) {
  const namespace = `sagabench_${bus}_${Date.now().toString(36)}`;
  return withFleet(
    1,
    namespace,
    (fleet) =>
      body({
        label: `fleet over ${bus === 'rabbitmq' ? 'RabbitMQ' : 'Redis Streams'}`,
        // Its databases are <namespace>_order, _payment, ...: the underscore keeps another
        // fleet whose namespace merely starts alike out.
        databases: `${namespace}_`,
        gateway: fleet.gatewayUrls[0]!,
        stores: fleet,
        path: (order) => orderPath(fleet, order),
        processes: () =>
          fleet.processes().map((p) => ({ name: p.label.replace(/-\d+$/, ''), pid: p.pid })),
      }),
    { ...BENCH_ENV, EVENT_BUS: bus },
  );
}

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}

/** Where a frame lives, short: a package's name, or a path in the repository. */
function place(url: string): string {
  if (!url) return 'native';
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return pkg[1]!;
  if (url.startsWith('node:')) return url;
  const file = url.replace(/^file:\/\//, '');
  return file.startsWith(ROOT) ? path.relative(ROOT, file) : file;
}

/**
 * The platform's CPU profile at one rate: the fleet over RabbitMQ with `--cpu-prof` (written
 * by each process as it stops), summed by function over every process: the top self times.
 */
async function profileAt(rate: number): Promise<string[]> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'saga-profile-'));
  await withFleet(
    1,
    `sagaprof_${Date.now().toString(36)}`,
    async (fleet) => {
      const target: Target = {
        label: 'profile',
        gateway: fleet.gatewayUrls[0]!,
        stores: fleet,
        processes: () => fleet.processes().map((p) => ({ name: p.label, pid: p.pid })),
      };
      const session = await prepare(target);
      await warmUp(target, session);
      // The profiles cover the measured orders only: start-up, set-up and warm-up are left out.
      const profiled = fleet.processes();
      // SIGUSR2 starts a profiler and, sent again once the sagas settled, stops and writes it.
      for (const p of profiled) process.kill(p.pid, 'SIGUSR2');
      await openLoop(target, session, rate, () => {
        for (const p of profiled) process.kill(p.pid, 'SIGUSR2');
      });
    },
    {
      ...BENCH_ENV,
      EVENT_BUS: 'rabbitmq',
      // --cpu-prof is refused in NODE_OPTIONS: the inspector's profiler, from a preload.
      NODE_OPTIONS: `--require ${path.join(ROOT, 'platform/bench/cpu-profile-preload.cjs')}`,
      CPU_PROFILE_DIR: dir,
    },
  );
  const self = new Map<string, number>();
  let total = 0;
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'))) {
    const profile = JSON.parse(readFileSync(path.join(dir, file), 'utf8')) as {
      nodes: ProfileNode[];
    };
    for (const node of profile.nodes) {
      const hits = node.hitCount ?? 0;
      // Waiting is not work: shares are of the CPU the processes used.
      if (!hits || node.callFrame.functionName === '(idle)') continue;
      total += hits;
      const { functionName, url } = node.callFrame;
      const key = functionName.startsWith('(')
        ? functionName
        : `${functionName || '(anonymous)'} (${place(url)})`;
      self.set(key, (self.get(key) ?? 0) + hits);
    }
  }
  const groups = new Map<string, number>();
  for (const [key, hits] of self) {
    const where = /\(([^)]*)\)$/.exec(key)?.[1] ?? key;
    const group = where.includes('/') && !where.startsWith('node:') ? where.split('/')[0]! : where;
    groups.set(group, (groups.get(group) ?? 0) + hits);
  }
  const pct = (hits: number) => `${((hits / Math.max(1, total)) * 100).toFixed(1)} %`;
  const top = (m: Map<string, number>, n: number) => [...m].sort((a, b) => b[1] - a[1]).slice(0, n);
  return [
    `CPU profile of the fleet over RabbitMQ at ${rate} orders/s for ${SECONDS} s (the inspector's CPU profiler in every service, the gateway and the MongoDB stand-in, after the warm-up, from the first measured order until the sagas settled), self time summed over the processes, as shares of their busy time (the inspector's sampling weighs system calls more than \`perf\` does: see the eleventh round below). By package or top folder: ${top(
      groups,
      12,
    )
      .map(([g, h]) => `${g} ${pct(h)}`)
      .join(', ')}.`,
    '',
    '| self time | function (where) |',
    '| ---: | --- |',
    ...top(self, 15).map(([k, h]) => `| ${pct(h)} | \`${k.replace(/\|/g, '\\|')}\` |`),
  ];
}

/** The curve as an SVG: p50 and p99 POST → CONFIRMED against confirmed orders/s. */
function curveSvg(results: PlatformResult[]): string {
  const W = 720;
  const H = 420;
  const pad = { l: 70, r: 20, t: 30, b: 50 };
  const points = results.flatMap((r) => r.rates);
  const maxX = Math.max(10, ...points.map((p) => p.achieved)) * 1.1;
  const ys = points.flatMap((p) => [p.p50, p.p99]).filter((v) => v > 0);
  const minY = Math.max(1, Math.min(...ys) / 2);
  const maxY = Math.max(...ys) * 2;
  const x = (v: number) => pad.l + (v / maxX) * (W - pad.l - pad.r);
  const y = (v: number) =>
    H -
    pad.b -
    ((Math.log10(v) - Math.log10(minY)) / (Math.log10(maxY) - Math.log10(minY))) *
      (H - pad.t - pad.b);
  const colours = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd'];
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2}" y="18" text-anchor="middle" font-size="14">Order saga: POST → CONFIRMED latency against confirmed orders/s (open loop)</text>`,
    `<line x1="${pad.l}" y1="${H - pad.b}" x2="${W - pad.r}" y2="${H - pad.b}" stroke="black"/>`,
    `<line x1="${pad.l}" y1="${pad.t}" x2="${pad.l}" y2="${H - pad.b}" stroke="black"/>`,
    `<text x="${W / 2}" y="${H - 12}" text-anchor="middle">confirmed orders/s</text>`,
    `<text x="16" y="${H / 2}" text-anchor="middle" transform="rotate(-90 16 ${H / 2})">latency, ms (log)</text>`,
  ];
  for (let v = 10 ** Math.ceil(Math.log10(minY)); v <= maxY; v *= 10) {
    out.push(
      `<line x1="${pad.l}" y1="${y(v)}" x2="${W - pad.r}" y2="${y(v)}" stroke="#ddd"/>`,
      `<text x="${pad.l - 6}" y="${y(v) + 4}" text-anchor="end">${v}</text>`,
    );
  }
  const step = maxX > 100 ? 50 : maxX > 40 ? 10 : 5;
  for (let v = 0; v <= maxX; v += step) {
    out.push(`<text x="${x(v)}" y="${H - pad.b + 16}" text-anchor="middle">${v}</text>`);
  }
  results.forEach((r, i) => {
    const colour = colours[i % colours.length];
    for (const [key, dash] of [
      ['p50', ''],
      ['p99', ' stroke-dasharray="5 4"'],
    ] as const) {
      const pts = r.rates.filter((p) => p[key] > 0).map((p) => `${x(p.achieved)},${y(p[key])}`);
      out.push(
        `<polyline fill="none" stroke="${colour}" stroke-width="2"${dash} points="${pts.join(' ')}"/>`,
      );
      for (const p of pts) {
        const [cx, cy] = p.split(',');
        out.push(`<circle cx="${cx}" cy="${cy}" r="3" fill="${colour}"/>`);
      }
    }
    out.push(
      `<text x="${pad.l + 12}" y="${pad.t + 16 + i * 16}" fill="${colour}">${r.label}: p50 solid, p99 dashed</text>`,
    );
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}

const ms = (v: number) => (Number.isFinite(v) ? `${Math.round(v)}` : '–');
const hostMs = (v: number | null) => (v === null ? '–' : v.toFixed(2));

function section(
  results: PlatformResult[],
  loadBefore: string,
  loadAfter: string,
  host: { before: number | null; after: number | null },
): string[] {
  const lines = [
    `${measuredOn()}. Load average before: ${loadBefore}; after: ${loadAfter}. Host speed: the fixed work of \`platform/bench/host-speed.ts\` took ${hostMs(host.before)} ms of CPU before the run and ${hostMs(host.after)} ms after (median of its runs, 2 a second, in a process of its own, over 5 s with this bench idle; its CPU time, which the machine's own load does not lengthen and a slower host does: the last column gives it during each rate, its drain included; a higher figure says the host itself was slower then, not by how much the platform's work slowed, so compare builds side by side with \`npm run bench:ab\`).`,
    `Script: \`npm run bench -w services/order\` (\`services/order/bench/saga-bench.ts\`), SAGA_RATES=${RATES.join(',')}, SAGA_SECONDS=${SECONDS}, SAGA_WARMUP_SECONDS=${WARMUP_SECONDS}, SAGA_WARMUP_RATE=${WARMUP_RATE}.`,
    '',
    'One-line orders (`tok_visa`, over 20 products) POSTed to the gateway by an open-loop generator, after a warm-up that is not measured (orders at the warm-up rate for its seconds, in windows of ' +
      String(WARMUP_WINDOW_SECONDS) +
      " s: V8 has then compiled the hot paths, as in a service that has been running; a cold fleet's CPU per order falls by about a quarter over its first minute or so at 20/s: each window's figure is below the table): at each offered rate, orders are sent on a fixed schedule for the given seconds whatever the answers, so queueing shows in the latency. Latency: from the moment an order was due to the CONFIRMED row of its history (PostgreSQL's clock, same machine). A rate is the last tried when its orders are not all confirmed within the drain bound or are confirmed at under 90 % of the offered rate (marked *saturated*). Where a rate's orders not confirmed went follows the count: POSTs not accepted (the bench's count) and, from the platform's order database, orders failed or cancelled, still open when the drain bound ran out, or missing. What became of every order's money is below the table. CPU per confirmed order from /proc, from the first order sent until none is open (the bench's read-back of every order's history comes after, uncounted): each Node process of the platform (the fleet: gateway, services, MongoDB stand-in; the embedded run: one process), and beside it PostgreSQL (for the fleet, in brackets, the part its own databases' backends took: the figure that tells two fleets on one server apart), RabbitMQ and Redis, this bench's own process (the load generator and, for the fleet, the embedded chain its launcher runs, where the anchorers' transactions land), and everything else the machine ran.",
    '',
    '| platform | one at a time p50 / p99 ms | offered /s | confirmed | achieved /s | p50 ms | p90 ms | p99 ms | max ms | Node CPU ms/order (by process) | PostgreSQL / RabbitMQ / Redis CPU ms/order | bench process CPU ms/order (generator; the fleet: its chain) | other CPU ms/order | host: fixed work CPU ms |',
    '| --- | --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | --- | --- | ---: | ---: | ---: |',
  ];
  for (const r of results) {
    r.rates.forEach((p, i) => {
      const total = nodeCpu(p);
      const by = [...p.cpu]
        .filter(([, v]) => v >= 0.05)
        .sort((a, b) => b[1] - a[1])
        .map(([name, v]) => `${name} ${v.toFixed(1)}`)
        .join(', ');
      lines.push(
        `| ${i === 0 ? r.label : ''} | ${i === 0 ? `${ms(r.single.p50)} / ${ms(r.single.p99)}` : ''} | ${p.offered} | ${p.confirmed}/${p.sent}${p.saturated ? ' *saturated*' : ''}${outcome(p)} | ${p.achieved.toFixed(1)} | ${ms(p.p50)} | ${ms(p.p90)} | ${ms(p.p99)} | ${ms(p.max)} | **${total.toFixed(1)}**: ${by} | ${p.servers.postgres.toFixed(1)}${Number.isNaN(p.ownBackends) ? '' : ` (its databases' backends ${p.ownBackends.toFixed(1)})`} / ${p.servers.rabbitmq.toFixed(1)} / ${p.servers.redis.toFixed(1)} | ${p.bench.toFixed(1)} | ${p.other.toFixed(1)} | ${hostMs(p.host)} |`,
      );
    });
  }
  const warmed = results.filter((r) => r.warmup.length > 0);
  if (warmed.length > 0) {
    lines.push(
      '',
      `The warm-up, Node CPU ms per confirmed order in each window of ${WARMUP_WINDOW_SECONDS} s at ${WARMUP_RATE}/s (not measured; the last windows should differ by no more than the noise): ${warmed.map((r) => `${r.label} ${r.warmup.map((v) => v.toFixed(1)).join(', ')}`).join('; ')}.`,
    );
  }
  lines.push(
    '',
    `Nothing lost or charged twice: every order the bench placed on a platform (the warm-up's, the one-at-a-time and the rates'), checked in the platform's order and payment databases and the payment provider's ledger once all were final (or ${SETTLE_MS / 1000} s after the last rate): every order final; each confirmed order with exactly one COMPLETED payment and exactly one charge kept (not refunded); no order charged twice; no charge kept for an order that failed, was cancelled or is missing from the order database (a breach, in bold, fails the bench once the figures are written). ${results.map((r) => `${r.label}: ${ledgerText(r.placed, r.ledger, '**')}`).join('; ')}.`,
  );
  const traced = results.filter((r) => r.single.path.length > 0);
  if (traced.length > 0) {
    lines.push(
      '',
      `One order at a time, where its time went: the median of each milestone over the orders placed one at a time (read back once all were confirmed), in ms after the POST was sent, as the client saw the answer and the fleet's databases recorded the rest (PostgreSQL's clock and product's, one machine): ${PATH_MILESTONES.map(([name, what]) => `*${name}*, ${what}`).join('; ')}.`,
      '',
      `| platform | ${PATH_COLUMNS.join(' | ')} |`,
      `| --- |${PATH_COLUMNS.map(() => ' ---: |').join('')}`,
      ...traced.map((r) => `| ${r.label} | ${r.single.path.map(([, v]) => ms(v)).join(' | ')} |`),
    );
  }
  lines.push('', '![The curve](saga-curve.svg)');
  return lines;
}

/** The host's speed through the run (platform/bench/host-speed.ts), started by main. */
let hostProbe: HostSpeedProbe | undefined;
/** The probe's figure for the next `ms`, with this bench idle. */
async function quietHostSpeed(ms = 5000): Promise<number | null> {
  const from = Date.now();
  await sleep(ms);
  return hostProbe?.medianBetween(from, Date.now()) ?? null;
}

async function main(): Promise<void> {
  const loadBefore = loadAverage();
  hostProbe = await startHostSpeedProbe();
  try {
    await measureAll(loadBefore, await quietHostSpeed());
  } finally {
    await hostProbe.stop();
  }
}

async function measureAll(loadBefore: string, hostBefore: number | null): Promise<void> {
  const results: PlatformResult[] = [];
  for (const platform of PLATFORMS) {
    if (platform === 'embedded') results.push(await withEmbedded(measure));
    else if (platform === 'rabbitmq' || platform === 'redis') {
      const url = platform === 'rabbitmq' ? process.env.AMQP_URL : process.env.REDIS_URL;
      if (!url || !process.env.POSTGRES_URL) {
        process.stdout.write(`skipping ${platform}: its URL or POSTGRES_URL is not set\n`);
        continue;
      }
      results.push(await onFleet(platform, measure));
    } else throw new Error(`unknown platform ${platform}`);
  }
  if (writesDocs()) writeFileSync(SVG_FILE, curveSvg(results));
  const loadAfter = loadAverage();
  const lines = section(results, loadBefore, loadAfter, {
    before: hostBefore,
    after: await quietHostSpeed(),
  });
  if (process.env.SAGA_PROFILE !== '0' && process.env.AMQP_URL && process.env.POSTGRES_URL) {
    const fleet = results.find((r) => r.label.includes('RabbitMQ')) ?? results[0];
    const held = fleet?.rates.filter((r) => !r.saturated).at(-1)?.offered ?? RATES[0]!;
    lines.push('', ...(await profileAt(held)));
  }
  writeBenchSection('order-saga', 'Order saga', lines);
  // The figures are written either way; an order lost or a charge out of place fails the run.
  const broken = results
    .filter((r) => ledgerProblems(r.ledger).length)
    .map((r) => `${r.label}: ${ledgerProblems(r.ledger).join('; ')}`);
  if (broken.length)
    throw new Error(`orders or charges not as the saga promises: ${broken.join('; ')}`);
}

runBench('saga bench', main);
