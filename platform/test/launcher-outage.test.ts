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

// The one-process launcher on a Redis that goes away for a while under it (the gateway's rate
// limits, product's cache): every service shares the process, so one unhandled 'error' from
// any client would take all six down. Redis sits behind a relay the test cuts.
const ports = platformPorts(18000);
const api = gatewayClient(`http://127.0.0.1:${ports.services.gateway}`);

jest.setTimeout(180_000);

describeIfServer('redis', 'npm start while its Redis goes away', (redisUrl) => {
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

  it('keeps running through the outage, reports it, and serves orders again after', async () => {
    const email = `outage-${Date.now()}@example.com`;
    const reg = await api<{ accessToken: string }>('POST', '/api/auth/register', {
      email,
      password: 'Outage#test2026',
      name: 'Outage Tester',
    });
    expect(reg.status).toBe(201);
    const token = reg.body.accessToken;

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
  });
});
