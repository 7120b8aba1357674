import { InMemoryEventBus } from '@ecom/common/bus';
import { loadConfig } from '@ecom/common/config';
import { createTestPostgres, type TestPostgres } from '@ecom/infrastructure/testing';
import {
  freePort,
  recordingAnchor,
  requestsAs,
  sendJson,
  startHttpStub,
  testServiceEnv,
  type HttpStub,
} from '@ecom/test-support';
import request from 'supertest';
import { orderConfigSchema } from '../src/config';
import { orderService, type RunningOrderService } from '../src/service';
import { orderSnapshot } from '../src/store/order-record';
import { startAuthStub, type StubProfile } from './support/helpers';

/** A product replica: ready, and answering the one product it holds (503 while `down`). */
async function productReplica() {
  const state = { down: false };
  const stub = await startHttpStub((req, res) => {
    if (req.url === '/health/ready') return sendJson(res, 200, { status: 'ok' });
    if (state.down) return sendJson(res, 503, { error: { code: 'DOWN', message: 'down' } });
    if (req.url !== '/api/products/p-lamp') return sendJson(res, 404, { error: {} });
    sendJson(res, 200, {
      id: 'p-lamp',
      name: 'Lamp',
      sellerId: 'seller-1',
      price: { amount: 1200, currency: 'USD' },
    });
  });
  const reads = () => stub.calls.filter((c) => c.url === '/api/products/p-lamp').length;
  return { stub, state, reads };
}

describe('order service calling replicated product and auth services', () => {
  let db: TestPostgres;
  let one: Awaited<ReturnType<typeof productReplica>>;
  let two: Awaited<ReturnType<typeof productReplica>>;
  let auth: Awaited<ReturnType<typeof startAuthStub>>;
  let service: RunningOrderService;
  let bus: InMemoryEventBus;
  const profiles = new Map<string, StubProfile>();
  const erin = { id: 'user-erin', role: 'customer' as const };

  beforeAll(async () => {
    db = await createTestPostgres('order_replicas');
    [one, two] = await Promise.all([productReplica(), productReplica()]);
    auth = await startAuthStub(profiles);
    profiles.set(erin.id, {
      name: 'Erin Ng',
      address: { line1: '9 Elm Rd', city: 'Leeds', country: 'GB' },
    });
    // Nothing listens on these: each is listed first, so its turn comes at once.
    const deadProduct = `http://127.0.0.1:${await freePort()}`;
    const deadAuth = `http://127.0.0.1:${await freePort()}`;
    bus = new InMemoryEventBus();
    service = await orderService.start({
      config: loadConfig(orderConfigSchema, {
        ...testServiceEnv,
        DATABASE_URL: db.url,
        PRODUCT_SERVICE_URL: `${deadProduct},${one.stub.url},${two.stub.url}`,
        AUTH_SERVICE_URL: `${deadAuth},${auth.url}`,
        // Every order reads its prices (no reused quote): the reads are what is watched here.
        QUOTE_CACHE_TTL_MS: '0',
        // One customer places every order, none paid: the reads are the point, not the holds.
        UNPAID_HOLD_MAX_ORDERS: '1000',
      }),
      bus,
      options: { anchor: recordingAnchor(orderSnapshot) },
    });
  });

  afterAll(async () => {
    await service?.stop();
    await bus?.close();
    await Promise.all(
      [one?.stub, two?.stub, auth].map((s?: Pick<HttpStub, 'close'>) => s?.close()),
    );
    await db?.cleanup();
  });

  const order = () =>
    requestsAs(() => request(service.app), erin)
      .post('/api/orders')
      .send({ items: [{ productId: 'p-lamp', quantity: 1 }] });

  it('reads prices and the profile past a replica that refuses connections', async () => {
    for (let i = 0; i < 4; i += 1) {
      const res = await order();
      expect(res.status).toBe(201);
      expect(res.body).toMatchObject({
        total: { amount: 1200 },
        shippingAddress: { name: 'Erin Ng', city: 'Leeds' },
      });
    }
    // Both live product replicas took reads.
    expect(one.reads()).toBeGreaterThan(0);
    expect(two.reads()).toBeGreaterThan(0);
  });

  it('retries a read that one product replica failed on another', async () => {
    one.state.down = true;
    try {
      const before = two.reads();
      for (let i = 0; i < 3; i += 1) expect((await order()).status).toBe(201);
      expect(two.reads() - before).toBe(3);
    } finally {
      one.state.down = false;
    }
  });
});
