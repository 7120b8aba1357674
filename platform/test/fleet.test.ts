import { execFile } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { freePort, queryOnce, removeBusNamespace } from '@ecom/test-support';
import { DEMO_ACCOUNTS } from '../src/demo';
import {
  DEFAULT_SERVERS,
  fleetDatabaseNames,
  startProcessFleet,
  type ProcessFleet,
  type Replica,
} from '../src/fleet-processes/launcher';
import { EXTERNAL_SERVER_VARIABLES } from '../src/stores';
import { settledCharges } from '../bench/charge-check';
import { tempDataDir, testAddress } from './support';

// `npm run fleet -- --replicas 2 --gateways 2` on the machine's PostgreSQL, Redis and
// RabbitMQ: the README walkthrough and the Postman collection through the gateways, then
// kill -9 of replicas while orders are in flight.
const ROOT = path.resolve(__dirname, '../..');
const namespace = `fleettest_${Date.now().toString(36)}`;
const env = (() => {
  const base = Object.fromEntries(
    Object.entries(process.env).filter(
      // The machine's servers stay (the fleet needs them); MongoDB and the chain are the fleet's.
      ([k]) => !['MONGO_URL', 'BLOCKCHAIN_RPC_URL', 'EVENT_BUS'].includes(k),
    ),
  );
  for (const k of EXTERNAL_SERVER_VARIABLES) {
    if (k in DEFAULT_SERVERS && !base[k])
      base[k] = DEFAULT_SERVERS[k as keyof typeof DEFAULT_SERVERS];
  }
  return {
    ...base,
    LOG_LEVEL: 'warn',
    BCRYPT_ROUNDS: '4',
    SHUTDOWN_TIMEOUT_MS: '5000',
    RABBITMQ_QUEUE_TYPE: 'classic',
    // The walkthrough, the collection and the workload sign in more often than a person does.
    RATE_LIMIT_POINTS: '100000',
    RATE_LIMIT_AUTH_POINTS: '100000',
    RATE_LIMIT_PAYMENT_POINTS: '100000',
    // Orders whose payment a dead replica was handling are reconciled within seconds.
    SWEEP_INTERVAL_MS: '2000',
    RECONCILE_INTERVAL_MS: '2000',
    RECONCILE_AFTER_MS: '5000',
  } as NodeJS.ProcessEnv;
})();

const dataDir = tempDataDir('fleet');
const printed: string[] = [];
let fleet: ProcessFleet;

const query = queryOnce;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function until<T>(what: string, read: () => Promise<T>, ok: (v: T) => boolean, ms: number) {
  const deadline = Date.now() + ms;
  let last = await read();
  while (!ok(last)) {
    if (Date.now() > deadline) throw new Error(`${what}: still ${JSON.stringify(last)}`);
    await sleep(500);
    last = await read();
  }
  return last;
}

async function api<T = Record<string, unknown>>(
  base: string,
  method: string,
  route: string,
  body?: unknown,
  token?: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: T }> {
  const res = await fetch(`${base}${route}`, {
    method,
    headers: {
      'content-type': 'application/json',
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...headers,
    },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(15_000),
  });
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : undefined) as T };
}

/** The order replica holding order's anchoring writer lock (a session advisory lock). */
async function anchoringWriter(dbUrl: string): Promise<string | undefined> {
  const rows = await query<{ application_name: string }>(
    dbUrl,
    `SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
      WHERE l.locktype = 'advisory' AND l.granted AND a.datname = current_database()`,
  );
  return rows[0]?.application_name;
}

/**
 * Listens on a dead replica's port and counts the requests that are not health probes: a
 * gateway that still routed traffic there would show up here.
 */
function tombstone(port: number): Promise<{ requests: string[]; close(): Promise<void> }> {
  const requests: string[] = [];
  const server = net.createServer((socket) => {
    socket.once('data', (chunk) => {
      const line = chunk.toString('latin1').split('\r\n')[0] ?? '';
      if (!/ \/health/.test(line)) requests.push(line);
      socket.destroy();
    });
    socket.on('error', () => undefined);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () =>
      resolve({ requests, close: () => new Promise((r) => server.close(() => r())) }),
    );
  });
}

/** Replicas that died though nobody killed them, with the end of their log. */
function diedOnTheirOwn(killed: Replica[] = []): string[] {
  return Object.values(fleet.replicas)
    .flat()
    .filter((r) => r.process.dead && !killed.includes(r))
    .map((r) => `${r.label}: ${fs.readFileSync(r.process.logFile, 'utf8').slice(-1500)}`);
}

beforeAll(async () => {
  fleet = await startProcessFleet({
    replicas: {
      auth: 2,
      product: 2,
      comments: 2,
      payment: 2,
      order: 2,
      notification: 2,
      gateway: 2,
    },
    env,
    namespace,
    portOf: () => freePort(),
    mongoPort: await freePort(),
    chainPort: await freePort(),
    dataDir,
    print: (line) => printed.push(line),
  });
}, 600_000);

afterAll(async () => {
  await fleet?.stop();
  for (const db of fleetDatabaseNames(namespace)) {
    await query(env.POSTGRES_URL!, `DROP DATABASE IF EXISTS "${db}" WITH (FORCE)`);
  }
  await removeBusNamespace('rabbitmq', env.AMQP_URL!, namespace);
  await removeBusNamespace('redis', env.REDIS_URL!, namespace);
  fs.rmSync(dataDir, { recursive: true, force: true });
}, 120_000);

describe('npm run fleet: several processes per service', () => {
  it('runs every replica as its own process on its own port and prints where', () => {
    const all = Object.values(fleet.replicas).flat();
    expect(all).toHaveLength(14);
    expect(new Set(all.map((r) => r.port)).size).toBe(14);
    expect(new Set(all.map((r) => r.process.pid)).size).toBe(14);
    expect(all.every((r) => !r.process.dead && r.process.pid !== process.pid)).toBe(true);
    for (const r of all) {
      const line = printed.find((l) => l.includes(`${r.service}#${r.number} `));
      expect(line).toContain(r.url);
      expect(line).toContain(`pid ${r.process.pid}`);
    }
    expect(printed.at(-1)).toBe(`ready: ${fleet.gatewayUrls.join(', ')} (Ctrl-C stops)`);
    expect(printed.some((l) => l.includes(`${namespace}_order`))).toBe(true);
  });

  it('names every database it created, so whoever started it can drop them all', async () => {
    const made = await query<{ datname: string }>(
      env.POSTGRES_URL!,
      'SELECT datname FROM pg_database WHERE starts_with(datname, $1) ORDER BY datname',
      [`${namespace}_`],
    );
    expect(made.map((d) => d.datname)).toEqual([...fleetDatabaseNames(namespace)].sort());
  });

  it("runs the README's walkthrough through the first gateway", async () => {
    const output = await new Promise<string>((resolve, reject) => {
      execFile(
        'bash',
        [path.join(ROOT, 'docs/walkthrough.sh')],
        { env: { ...process.env, API: fleet.gatewayUrls[0] }, timeout: 120_000 },
        (err, stdout, stderr) =>
          err ? reject(new Error(`${err.message}\n${stdout}\n${stderr}`)) : resolve(stdout),
      );
    });
    expect(output).toMatch(/PENDING -> PAYMENT_PROCESSING -> CONFIRMED/);
    expect(output.trim().split('\n').at(-1)).toBe('walkthrough complete');
    expect(diedOnTheirOwn()).toEqual([]);
  }, 150_000);

  it('passes the Postman collection through the second gateway', async () => {
    const output = await new Promise<string>((resolve, reject) => {
      execFile(
        process.execPath,
        ['--import', 'tsx', 'platform/src/run-postman.ts', '--base-url', fleet.gatewayUrls[1]!],
        {
          cwd: ROOT,
          env: { ...process.env, TSX_TSCONFIG_PATH: path.join(ROOT, 'platform/tsconfig.run.json') },
          timeout: 240_000,
          maxBuffer: 20 * 1024 * 1024,
        },
        (err, stdout, stderr) =>
          err
            ? reject(new Error(`${err.message}\n${stdout.slice(-4000)}\n${stderr}`))
            : resolve(stdout),
      );
    });
    expect(output).toMatch(/^\d+ passed, 0 failed$/m);
    expect(diedOnTheirOwn()).toEqual([]);
  }, 300_000);

  it('loses nothing when a payment and the anchoring order replica are killed mid-saga', async () => {
    const gateways = fleet.gatewayUrls;
    const login = await api<{ accessToken: string }>(gateways[0]!, 'POST', '/api/auth/login', {
      email: DEMO_ACCOUNTS.customer.email,
      password: DEMO_ACCOUNTS.customer.password,
    });
    expect(login.status).toBe(200);
    const token = login.body.accessToken;
    const products = await api<{ items: { id: string; inventory: { available: number } }[] }>(
      gateways[0]!,
      'GET',
      '/api/products?inStock=true&limit=50',
    );
    const product = [...products.body.items].sort(
      (a, b) => b.inventory.available - a.inventory.available,
    )[0]!;
    expect(product.inventory.available).toBeGreaterThanOrEqual(30);

    // The victims: payment's first replica, and whichever order replica writes the anchors.
    const writer = await until(
      'an order replica holding the anchoring lock',
      () => anchoringWriter(fleet.orderDbUrl),
      (name) => name !== undefined,
      60_000,
    );
    const orderVictim = fleet.replicas.order.find((r) => r.label === writer)!;
    expect(orderVictim).toBeDefined();
    const paymentVictim = fleet.replicas.payment[0]!;

    // 24 orders, 4 at a time over both gateways; each retried with its idempotency key until
    // accepted (a request in flight to a killed replica may fail). The kills come after 8.
    const run = Date.now().toString(36);
    const orderIds: string[] = [];
    const place = async (n: number) => {
      for (let attempt = 0; ; attempt++) {
        const res = await api<{ id: string }>(
          gateways[n % gateways.length]!,
          'POST',
          '/api/orders',
          {
            items: [{ productId: product.id, quantity: 1 }],
            payment: { method: 'card', token: 'tok_visa' },
            shippingAddress: testAddress('Fleet'),
          },
          token,
          { 'idempotency-key': `fleet-${run}-${n}` },
        ).catch((err: Error) => ({ status: 0, body: { id: err.message } }));
        if (res.status === 201 || res.status === 200) return res.body.id;
        if (attempt >= 20) throw new Error(`order ${n}: ${res.status} ${JSON.stringify(res.body)}`);
        await sleep(500);
      }
    };
    let killed: Promise<void> | undefined;
    for (let batch = 0; batch < 6; batch++) {
      if (batch === 2)
        killed = Promise.all([fleet.kill(paymentVictim), fleet.kill(orderVictim)]).then(
          () => undefined,
        );
      orderIds.push(...(await Promise.all([0, 1, 2, 3].map((i) => place(batch * 4 + i)))));
    }
    await killed;
    expect(new Set(orderIds).size).toBe(24);
    // Nothing may answer on the dead replicas' ports but these listeners from now on.
    const graves = await Promise.all([tombstone(paymentVictim.port), tombstone(orderVictim.port)]);

    try {
      const statuses = await until(
        'every order final',
        () =>
          query<{ id: string; status: string }>(
            fleet.orderDbUrl,
            'SELECT id, status FROM orders WHERE id = ANY($1)',
            [orderIds],
          ),
        (rows) =>
          rows.length === 24 &&
          rows.every((r) => ['CONFIRMED', 'FAILED', 'CANCELLED'].includes(r.status)),
        180_000,
      );
      const confirmed = statuses.filter((r) => r.status === 'CONFIRMED').map((r) => r.id);
      expect(confirmed.length).toBeGreaterThan(0);

      // One completed payment and one charge kept per confirmed order, none twice, none kept
      // for an order that did not end confirmed (a failed order's refund may still be on its way).
      expect((await settledCharges(fleet, orderIds, 30_000)).problems).toEqual([]);

      // Every outbox row sent and every record anchored: the surviving order replica took the
      // writer lock over.
      for (const db of [fleet.orderDbUrl, fleet.paymentDbUrl]) {
        await until(
          'outbox sent and records anchored',
          async () => {
            const [row] = await query<{ unsent: string; unanchored: string }>(
              db,
              `SELECT (SELECT count(*) FROM event_outbox WHERE sent_at IS NULL) AS unsent,
                      (SELECT count(*) FROM anchor_records WHERE batch_id IS NULL) AS unanchored`,
            );
            return { unsent: Number(row!.unsent), unanchored: Number(row!.unanchored) };
          },
          (v) => v.unsent === 0 && v.unanchored === 0,
          120_000,
        );
      }
      const newWriter = await anchoringWriter(fleet.orderDbUrl);
      const survivor = fleet.replicas.order.find((r: Replica) => r !== orderVictim)!;
      expect(newWriter).toBe(survivor.label);
      const anchoredSince = await query<{ n: string }>(
        fleet.orderDbUrl,
        `SELECT count(*) AS n FROM anchor_records r JOIN anchor_batches b ON b.id = r.batch_id
          WHERE b.status <> 'superseded'`,
      );
      expect(Number(anchoredSince[0]!.n)).toBeGreaterThan(0);

      // The gateways no longer send requests to the dead replicas: each reports them out of
      // its balancer, a round of reads through both all succeed, and the listeners on the dead
      // ports see none of them.
      type Health = {
        upstreams: Record<string, { replicas: { url: string; state: string }[] }>;
      };
      for (const gateway of gateways) {
        const health = await api<Health>(gateway!, 'GET', '/health');
        const stateOf = (victim: Replica) =>
          health.body.upstreams[victim.service]!.replicas.find((r) => r.url === victim.url)?.state;
        expect(stateOf(paymentVictim)).toBeDefined();
        expect(stateOf(paymentVictim)).not.toBe('healthy');
        expect(stateOf(orderVictim)).not.toBe('healthy');
      }
      for (const gateway of gateways) {
        for (const id of confirmed.slice(0, 10)) {
          expect((await api(gateway!, 'GET', `/api/orders/${id}`, undefined, token)).status).toBe(
            200,
          );
          expect(
            (await api(gateway!, 'GET', `/api/payments/order/${id}`, undefined, token)).status,
          ).toBe(200);
        }
      }
      expect(graves.flatMap((g) => g.requests)).toEqual([]);
      expect(diedOnTheirOwn([paymentVictim, orderVictim])).toEqual([]);
    } finally {
      for (const g of graves) await g.close();
    }
  }, 600_000);
});
