import fs from 'node:fs';
import {
  createTestMongo,
  describeIfServer,
  startTcpRelay,
  type TcpRelay,
  type TestMongo,
} from '@ecom/test-support';
import { startPlatform, type Platform } from '../src/start';
import { gatewayClient, until, untilOrderStatus } from './gateway-client';
import { embeddedEnv, platformPorts, tempDataDir, testAddress } from './support';

// The one-process launcher on a Redis and a MongoDB that go away for a while under it (the
// gateway's rate limits, product's cache; auth's, product's and comments' stores): every service
// shares the process, so one unhandled 'error' from any client would take all six down, and a
// client that does not recover leaves its service unready for good. Each store sits behind a
// relay the test cuts.
const ports = platformPorts(18000);
const api = gatewayClient(`http://127.0.0.1:${ports.services.gateway}`);

jest.setTimeout(180_000);

describeIfServer('redis', 'npm start while its Redis and MongoDB go away', (redisUrl) => {
  let mongo: TestMongo;
  let mongoRelay: TcpRelay;
  let redisRelay: TcpRelay;
  let platform: Platform;
  let dataDir: string;

  beforeAll(async () => {
    mongo = await createTestMongo('launcher_outage');
    mongoRelay = await startTcpRelay(mongo.url);
    redisRelay = await startTcpRelay(redisUrl);
    dataDir = tempDataDir('launcher-outage');
    platform = await startPlatform({
      env: embeddedEnv(dataDir, {
        MONGO_URL: mongoRelay.relayed(mongo.url),
        REDIS_URL: redisRelay.relayed(redisUrl),
        EVENT_BUS: 'memory',
        // The real Redis keeps the gateway's budgets across runs: not what this test is about.
        RATE_LIMIT_AUTH_POINTS: '100000',
        RATE_LIMIT_POINTS: '100000',
      }),
      ports,
      print: () => undefined,
    });
  });

  afterAll(async () => {
    await platform?.stop();
    await mongoRelay?.close();
    await redisRelay?.close();
    await mongo?.cleanup();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  async function register(label: string): Promise<string> {
    const reg = await api<{ accessToken: string }>('POST', '/api/auth/register', {
      email: `${label}-${Date.now()}@example.com`,
      password: 'Outage#test2026',
      name: 'Outage Tester',
    });
    expect(reg.status).toBe(201);
    return reg.body.accessToken;
  }

  async function placeOrderAndConfirm(token: string): Promise<void> {
    const list = await until(
      () => api<{ items: { id: string }[] }>('GET', '/api/products?inStock=true&limit=1'),
      (r) => r.status === 200 && r.body.items.length === 1,
      30_000,
    );
    const order = await api<{ id: string }>(
      'POST',
      '/api/orders',
      {
        items: [{ productId: list.body.items[0]!.id, quantity: 1 }],
        payment: { method: 'card', token: 'tok_visa' },
        shippingAddress: testAddress('Outage'),
      },
      token,
    );
    expect(order.status).toBe(201);
    const confirmed = await untilOrderStatus(api, order.body.id, token, 'CONFIRMED');
    expect(confirmed.body.status).toBe('CONFIRMED');
  }

  /** A service's own readiness, asked on its port rather than through the gateway. */
  const ready = (service: 'auth' | 'product' | 'comments') => async () => {
    const res = await fetch(`http://127.0.0.1:${ports.services[service]}/health/ready`);
    await res.arrayBuffer();
    return { status: res.status };
  };

  it('keeps running through a Redis outage, and serves orders again after', async () => {
    const token = await register('redis-outage');
    redisRelay.cut();
    // Redis gone: the catalog is served from MongoDB and rate limits fail open, so the shop
    // keeps answering.
    const during = await until(
      () => api<{ items: unknown[] }>('GET', '/api/products?limit=1'),
      (r) => r.status === 200,
    );
    expect(during.status).toBe(200);
    await new Promise((resolve) => setTimeout(resolve, 5000));
    redisRelay.restore();

    const after = await until(
      () => api<{ status: string }>('GET', '/health'),
      (r) => r.status === 200,
      60_000,
    );
    expect(after.status).toBe(200);
    await placeOrderAndConfirm(token);
  });

  it('comes back from a MongoDB outage with every MongoDB service ready again', async () => {
    const token = await register('mongo-outage');
    mongoRelay.cut();
    // Traffic on every MongoDB service while the store is gone, so each client has operations
    // in flight and its server monitor re-checking as the connections drop (this found a driver
    // hang that left comments unready for good: common/src/mongo/driver-fix.ts).
    const end = Date.now() + 10_000;
    while (Date.now() < end) {
      const answers = await Promise.all([
        api('GET', '/api/products?limit=1'),
        api('GET', '/api/comments?productId=aaaaaaaaaaaaaaaaaaaaaaaa'),
        api('POST', '/api/auth/login', { email: 'nobody@example.com', password: 'Wrong#pass2026' }),
        ready('comments')(),
      ]);
      // Answers, never a crash or a 500: the gateway and every service still respond.
      for (const answer of answers) expect(answer.status).not.toBe(500);
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    expect((await ready('comments')()).status).toBe(503);
    mongoRelay.restore();

    for (const service of ['auth', 'product', 'comments'] as const) {
      const answer = await until(ready(service), (r) => r.status === 200, 60_000);
      expect(answer.status).toBe(200);
    }
    await placeOrderAndConfirm(token);
  });
});
