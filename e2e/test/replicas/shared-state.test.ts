import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { Types } from 'mongoose';
import request from 'supertest';
import { InMemoryEventBus } from '@ecom/common/bus';
import { createLogger } from '@ecom/common/logging';
import { gatewayService, loadGatewayConfig, type RunningGateway } from '@ecom/gateway';
import { describeIfServer } from '@ecom/infrastructure/testing';
import {
  loadProductConfig,
  productService,
  type RunningProductService,
} from '@ecom/product-service';
import {
  bearer,
  createTestMongo,
  eventually,
  testServiceEnv,
  type TestMongo,
} from '@ecom/test-support';

const seller = { id: 'replicas-seller', role: 'seller' as const };
const logger = createLogger('replicas-shared', 'silent');

/**
 * What replicas share through Redis: product's read cache (two product replicas, one
 * CACHE_KEY_PREFIX), the gateway's rate limits and its response-cache invalidations (two
 * gateway instances, one GATEWAY_KEY_PREFIX).
 */
describeIfServer('redis', 'state two replicas share through Redis', (redisUrl) => {
  const run = randomUUID().slice(0, 8);
  const bus = new InMemoryEventBus();
  let mongo: TestMongo;
  let redis: Redis;
  const products: RunningProductService[] = [];
  const gateways: RunningGateway[] = [];

  const startGateway = (prefix: string, env: Record<string, string>) =>
    gatewayService.start({
      config: loadGatewayConfig({
        ...testServiceEnv,
        REDIS_URL: redisUrl,
        GATEWAY_KEY_PREFIX: prefix,
        PRODUCT_SERVICE_URL: products[0].url,
        AUTH_SERVICE_URL: 'http://127.0.0.1:9',
        COMMENTS_SERVICE_URL: 'http://127.0.0.1:9',
        PAYMENT_SERVICE_URL: 'http://127.0.0.1:9',
        ORDER_SERVICE_URL: 'http://127.0.0.1:9',
        ...env,
      }),
      logger,
    });

  beforeAll(async () => {
    mongo = await createTestMongo('replicas_shared_product');
    redis = new Redis(redisUrl);
    for (let i = 0; i < 2; i++) {
      products.push(
        await productService.start({
          config: loadProductConfig({
            ...testServiceEnv,
            MONGO_URL: mongo.url,
            REDIS_URL: redisUrl,
            CACHE_DRIVER: 'redis',
            CACHE_KEY_PREFIX: `replicas-${run}:product`,
          }),
          bus,
          // One replica consumes; what is shared here is the cache.
          options: { consume: i === 0 },
        }),
      );
    }
  }, 60000);

  afterAll(async () => {
    for (const gw of gateways) await gw.stop().catch(() => undefined);
    for (const p of products) await p.stop().catch(() => undefined);
    await bus.close();
    const keys = await redis.keys(`replicas-${run}*`);
    if (keys.length) await redis.del(...keys);
    redis.disconnect();
    await mongo?.cleanup();
  });

  async function createProduct(price: number): Promise<string> {
    const res = await request(products[0].app)
      .post('/api/products')
      .set('Authorization', bearer(seller))
      .send({ name: `Shared ${randomUUID().slice(0, 6)}`, price, inventory: 5 });
    expect(res.status).toBe(201);
    return res.body.id as string;
  }

  test("product's cache: a change made on one replica is read at once on the other", async () => {
    const id = await createProduct(10);
    const read = (i: number) => request(products[i].app).get(`/api/products/${id}`);
    const first = await read(1);
    expect(first.status).toBe(200);
    // The read was cached in Redis, under the shared prefix.
    expect((await redis.keys(`replicas-${run}:product*`)).length).toBeGreaterThan(0);
    const update = await request(products[0].app)
      .put(`/api/products/${id}`)
      .set('Authorization', bearer(seller))
      .send({ price: 25 });
    expect(update.status).toBe(200);
    const after = await read(1);
    expect(after.status).toBe(200);
    expect(JSON.stringify(after.body.price)).toBe(JSON.stringify(update.body.price));
    expect(JSON.stringify(after.body.price)).not.toBe(JSON.stringify(first.body.price));
  });

  test("product's order.confirmed and order.cancelled for one order on two replicas at once leave the stock whole", async () => {
    const LINES = 6;
    const ORDERS = 8;
    const ids: string[] = [];
    for (let i = 0; i < LINES; i++) ids.push(await createProduct(3));
    const stock = async () =>
      (
        await products[0].connection
          .collection('products')
          .find({ _id: { $in: ids.map((id) => new Types.ObjectId(id)) } })
          .toArray()
      ).map((d) => ({ available: d.available, reserved: d.reserved, sold: d.sold }));
    for (let n = 0; n < ORDERS; n++) {
      const orderId = randomUUID();
      const reserved = await products[0].inventory.reserve(
        orderId,
        ids.map((productId) => ({ productId, quantity: 1 })),
      );
      expect(reserved.outcome).toBe('reserved');
      // The confirmation, then the customer's cancel, each taken by a different replica.
      await Promise.all([
        products[0].inventory.confirm(orderId),
        products[1].inventory.release(orderId, { allowRestock: true }),
      ]);
      const reservation = await products[0].connection
        .collection('reservations')
        .findOne({ orderId });
      expect({ n, status: reservation?.status }).toEqual({ n, status: 'released' });
      expect({ n, stock: await stock() }).toEqual({
        n,
        stock: ids.map(() => ({ available: 5, reserved: 0, sold: 0 })),
      });
    }
  });

  test('a rate limit of N over two gateway instances lets N requests through in total', async () => {
    const LIMIT = 6;
    const pair = [
      // Redis decides every request: a slow answer must not fall back to an instance's memory
      // (that fallback is gateway/test/rate-limit.test.ts's), so its timeout is generous here.
      await startGateway(`replicas-${run}:rl`, {
        RATE_LIMIT_POINTS: String(LIMIT),
        REDIS_COMMAND_TIMEOUT_MS: '5000',
      }),
      await startGateway(`replicas-${run}:rl`, {
        RATE_LIMIT_POINTS: String(LIMIT),
        REDIS_COMMAND_TIMEOUT_MS: '5000',
      }),
    ];
    gateways.push(...pair);
    const statuses: number[] = [];
    for (let i = 0; i < 2 * LIMIT; i++) {
      statuses.push((await request(pair[i % 2].handler).get('/api/products?limit=1')).status);
    }
    expect(statuses.filter((s) => s === 200)).toHaveLength(LIMIT);
    expect(statuses.filter((s) => s === 429)).toHaveLength(LIMIT);
  });

  test("the gateway's response cache: a write through one instance invalidates the other's", async () => {
    const pair = [
      await startGateway(`replicas-${run}:cache`, { GATEWAY_CACHE_TTL_MS: '60000' }),
      await startGateway(`replicas-${run}:cache`, { GATEWAY_CACHE_TTL_MS: '60000' }),
    ];
    gateways.push(...pair);
    const id = await createProduct(30);
    const read = () => request(pair[1].handler).get(`/api/products/${id}`);
    const before = await read();
    expect(before.status).toBe(200);
    await eventually(async () => (await read()).headers['x-cache'] === 'HIT', {
      what: 'the read cached on the second gateway',
    });
    const update = await request(pair[0].handler)
      .put(`/api/products/${id}`)
      .set('Authorization', bearer(seller))
      .send({ price: 45 });
    expect(update.status).toBe(200);
    // Propagated through Redis pub/sub: the other instance's entry is dropped.
    await eventually(
      async () => JSON.stringify((await read()).body.price) === JSON.stringify(update.body.price),
      { what: 'the second gateway answers the new price' },
    );
  });
});
