/**
 * The fault-injection suite (`npm run test:faults`): the platform as separate processes on the
 * real PostgreSQL, Redis and RabbitMQ, orders driven through the gateway, one fault injected
 * per experiment while they are placed; then it waits for the platform to settle and checks
 * the invariants (every order final, one completed payment and one charge kept per confirmed
 * order, none charged twice, no charge kept for an order that did not go through, stock
 * conserved, no reservation left held, no unsent outbox row, no dead letter, every entry
 * anchored, no process died). Prints the table and writes it to docs/reliability.md; exits 1
 * if any invariant broke.
 *
 *   npm run test:faults [-- --orders 20] [--only mongo-down-10s,kill-order] [--skip a,b] [--no-write]
 *
 * Needs POSTGRES_URL, REDIS_URL and AMQP_URL (loopback servers) and rabbitmqctl. RabbitMQ's
 * stop_app stops the whole broker for 10 s: run it where nothing else uses that broker.
 */
import { execFile } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs, promisify } from 'node:util';
import amqp from 'amqplib';
import { Client as PgClient } from 'pg';
import { broken, settle, type Outcome } from './invariants';
import { restartPostgres, restartRedis } from './restarts';
import { ProcessPlatform, sleep, type ServiceName } from './platform';
import { Client, openShop, placeOrders, stockShop, type Shop } from './workload';

const run = promisify(execFile);
const rabbitmqctl = (...args: string[]) => run('rabbitmqctl', args, { timeout: 60_000 });

interface Experiment {
  name: string;
  what: string;
  /** Injected about a second after the first order is sent, while orders are being placed. */
  fault?: (p: ProcessPlatform) => Promise<void>;
  /** Run after the orders are placed (duplicates). */
  after?: (p: ProcessPlatform, captured: Captured) => Promise<void>;
  /** How long the platform may take to settle once the fault is over. */
  settleMs?: number;
}

/** Every event the bus carried during an experiment, as published (for redelivery). */
interface Captured {
  messages: { routingKey: string; content: Buffer; messageId?: string }[];
}

async function closeOurConnections(p: ProcessPlatform): Promise<void> {
  const { stdout } = await rabbitmqctl('list_connections', 'pid', 'client_properties');
  for (const line of stdout.split('\n')) {
    if (line.includes(`"${p.prefix}:`)) {
      await rabbitmqctl('close_connection', line.split('\t')[0], 'fault suite: connection killed');
    }
  }
}

async function terminatePostgres(p: ProcessPlatform): Promise<void> {
  const admin = new PgClient({ connectionString: p.env.postgresUrl });
  await admin.connect();
  try {
    // What a restart does to the sessions: "terminating connection due to administrator command".
    await admin.query(
      'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = ANY($1) AND pid <> pg_backend_pid()',
      [[new URL(p.orderDb.url).pathname.slice(1), new URL(p.paymentDb.url).pathname.slice(1)]],
    );
  } finally {
    await admin.end();
  }
}

const crash = (name: ServiceName): Experiment => ({
  name: `kill-${name}`,
  what: `kill -9 of ${name}, restarted 1 s later`,
  fault: (p) => p.crash(name, 1000),
});

const EXPERIMENTS: Experiment[] = [
  { name: 'baseline', what: 'no fault' },
  {
    name: 'rabbitmq-connections',
    what: "RabbitMQ closes every connection of the platform's services",
    fault: closeOurConnections,
  },
  {
    name: 'rabbitmq-stop-app',
    what: 'RabbitMQ stop_app, start_app 10 s later',
    fault: async () => {
      await rabbitmqctl('stop_app');
      await sleep(10_000);
      await rabbitmqctl('start_app');
    },
  },
  {
    name: 'redis-outage',
    what: 'Redis unreachable 5 s, every connection dropped (rate limits, product cache)',
    fault: (p) => p.outage('redis', 5000),
  },
  {
    name: 'redis-restart',
    what: 'Redis shut down, started again 3 s later (its data gone, as it keeps none on disk here)',
    fault: (p) => restartRedis(p.env.redisUrl, 3000),
  },
  {
    name: 'postgres-restart',
    what: 'PostgreSQL restarted (pg_ctlcluster restart -m fast)',
    fault: (p) => restartPostgres(p.env.postgresUrl),
  },
  {
    name: 'postgres-outage',
    what: 'PostgreSQL sessions terminated by the server, then unreachable 5 s',
    fault: async (p) => {
      await terminatePostgres(p);
      await p.outage('postgres', 5000);
    },
  },
  {
    name: 'mongo-down-10s',
    what: 'MongoDB stand-in unreachable 10 s',
    fault: (p) => p.outage('mongo', 10_000),
  },
  {
    name: 'mongo-down-90s',
    what: 'MongoDB stand-in unreachable 90 s',
    fault: (p) => p.outage('mongo', 90_000),
    settleMs: 180_000,
  },
  {
    name: 'mongo-kill',
    what: 'kill -9 of the MongoDB stand-in, restarted on its data 2 s later',
    fault: (p) => p.crashMongo(2000),
  },
  ...(['auth', 'product', 'comments', 'payment', 'order', 'gateway'] as const).map(crash),
  {
    name: 'duplicates',
    what: 'every event of the experiment delivered a second time',
    after: async (p, captured) => {
      const conn = await amqp.connect(p.env.amqpUrl);
      const channel = await conn.createConfirmChannel();
      for (const m of captured.messages) {
        channel.publish(`${p.prefix}.events`, m.routingKey, m.content, {
          persistent: true,
          contentType: 'application/json',
          messageId: m.messageId,
        });
      }
      await channel.waitForConfirms();
      await conn.close();
    },
  },
  {
    name: 'chain-outage',
    what: 'chain JSON-RPC unreachable 15 s',
    fault: (p) => p.outage('chain', 15_000),
  },
];

/** Listens to every event of the platform for the duration of an experiment. */
async function capture(p: ProcessPlatform) {
  const conn = await amqp.connect(p.env.amqpUrl);
  const channel = await conn.createChannel();
  const { queue } = await channel.assertQueue('', { exclusive: true, autoDelete: true });
  await channel.bindQueue(queue, `${p.prefix}.events`, '#');
  const captured: Captured = { messages: [] };
  await channel.consume(
    queue,
    (msg) => {
      if (msg)
        captured.messages.push({
          routingKey: msg.fields.routingKey,
          content: msg.content,
          messageId: msg.properties.messageId as string | undefined,
        });
    },
    { noAck: true },
  );
  return { captured, stop: () => conn.close().catch(() => undefined) };
}

interface Row {
  experiment: Experiment;
  outcome: Outcome;
  settleMs: number;
  problems: string[];
}

async function runExperiment(
  p: ProcessPlatform,
  client: Client,
  shop: Shop,
  e: Experiment,
  orders: number,
): Promise<Row> {
  // Scarce stock: about half the units the orders ask for, raced for by every customer.
  const products = await stockShop(
    client,
    shop,
    [orders / 2, orders / 4, orders / 4].map(Math.ceil),
  );
  const spy = await capture(p);
  const placing = placeOrders(client, shop, products, orders);
  const faulting = e.fault ? sleep(1000).then(() => e.fault!(p)) : Promise.resolve();
  const [placed] = await Promise.all([placing, faulting]);
  if (e.after) {
    await sleep(3000);
    await e.after(p, spy.captured);
  }
  await spy.stop();
  const { outcome, settleMs } = await settle(
    p,
    placed.map((o) => o.orderId),
    products,
    e.settleMs ?? 120_000,
  );
  return { experiment: e, outcome, settleMs, problems: broken(outcome) };
}

function table(rows: Row[]): string[] {
  const head =
    '| experiment | placed | confirmed | failed | stuck | double-charged | oversold | stock leaked | dead letters | settle s | invariants |';
  const lines = [head, '|' + ' --- |'.repeat(11)];
  for (const r of rows) {
    const o = r.outcome;
    lines.push(
      `| ${r.experiment.name}: ${r.experiment.what} | ${o.placed} | ${o.confirmed} | ${o.failed} | ${o.stuck} | ${o.doubleCharged} | ${o.oversold} | ${o.stockLeaked} | ${o.deadLetters} | ${(r.settleMs / 1000).toFixed(1)} | ${r.problems.length ? `BROKEN: ${r.problems.join('; ')}` : 'held'} |`,
    );
  }
  return lines;
}

function writeReliability(lines: string[]): void {
  const file = path.resolve(__dirname, '../../docs/reliability.md');
  const [start, end] = ['<!-- faults:start -->', '<!-- faults:end -->'];
  const cpus = os.cpus();
  const section = [
    start,
    `Last run ${new Date().toISOString()} on ${cpus[0]?.model ?? 'unknown CPU'} (${cpus.length} cores), ${Math.round(os.totalmem() / 2 ** 30)} GiB RAM, Node ${process.version}, load average ${os
      .loadavg()
      .map((l) => l.toFixed(1))
      .join(' / ')} at the end.`,
    '',
    ...lines,
    end,
  ].join('\n');
  const current = existsSync(file) ? readFileSync(file, 'utf8') : '# Reliability\n';
  const pattern = new RegExp(`${start}[\\s\\S]*?${end}`);
  writeFileSync(
    file,
    pattern.test(current)
      ? current.replace(pattern, () => section)
      : `${current.trimEnd()}\n\n${section}\n`,
  );
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      orders: { type: 'string', default: '20' },
      only: { type: 'string' },
      skip: { type: 'string' },
      'no-write': { type: 'boolean', default: false },
    },
  });
  const env = {
    postgresUrl: process.env.POSTGRES_URL ?? '',
    redisUrl: process.env.REDIS_URL ?? '',
    amqpUrl: process.env.AMQP_URL ?? '',
  };
  if (!env.postgresUrl || !env.redisUrl || !env.amqpUrl) {
    console.error('test:faults needs POSTGRES_URL, REDIS_URL and AMQP_URL');
    return 2;
  }
  const only = values.only?.split(',');
  const skip = values.skip?.split(',') ?? [];
  const experiments = EXPERIMENTS.filter(
    (e) => (!only || only.includes(e.name)) && !skip.includes(e.name),
  );
  const orders = Number(values.orders);
  const platform = new ProcessPlatform(env);
  const rows: Row[] = [];
  let failed = false;
  try {
    console.log(`starting the platform (logs in ${platform.logDir})`);
    await platform.start();
    const client = new Client(platform.gatewayUrl);
    for (const e of experiments) {
      // Tokens last 15 minutes: a fresh shop (and sign-ins) per experiment.
      const shop = await openShop(client, 4);
      const row = await runExperiment(platform, client, shop, e, orders);
      rows.push(row);
      console.log(
        `${e.name}: ${row.problems.length ? `BROKEN (${row.problems.join('; ')})` : 'held'} — ${row.outcome.confirmed}/${row.outcome.placed} confirmed, settled in ${(row.settleMs / 1000).toFixed(1)} s`,
      );
      if (row.problems.length) failed = true;
    }
  } catch (err) {
    console.error(`fault suite failed: ${(err as Error).stack ?? String(err)}`);
    failed = true;
  } finally {
    await platform.stop().catch((err: unknown) => console.error(`stop: ${(err as Error).message}`));
  }
  const lines = table(rows);
  console.log(lines.join('\n'));
  if (!values['no-write'] && rows.length === EXPERIMENTS.length) writeReliability(lines);
  if (failed) console.error(`logs kept in ${platform.logDir}`);
  else platform.removeLogs();
  return failed ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
