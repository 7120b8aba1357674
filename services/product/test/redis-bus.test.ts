import { randomBytes } from 'node:crypto';
import Redis from 'ioredis';
import request from 'supertest';
import {
  createEvent,
  createEventBus,
  createLogger,
  type EventBus,
  type EventEnvelope,
} from '@ecom/common';
import { createTestMongo, describeIfServer, type TestMongo } from '@ecom/infrastructure/testing';
import { loadProductConfig } from '../src/config';
import { startProductService, type RunningProductService } from '../src/service';
import { newOrderId, seller, testJwtPublicKey, tokenFor } from './helpers';

async function until<T>(what: string, fn: () => T | undefined, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = fn();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

describeIfServer('redis', 'product saga steps over the Redis Streams bus', (redisUrl) => {
  const prefix = `test-product-${randomBytes(4).toString('hex')}`;
  const logger = createLogger('test', 'silent');
  const outcomes: EventEnvelope[] = [];
  let mongo: TestMongo;
  let productBus: EventBus;
  let orderBus: EventBus;
  let service: RunningProductService;

  beforeAll(async () => {
    mongo = await createTestMongo('product_redis_bus');
    const busConfig = { EVENT_BUS: 'redis' as const, REDIS_URL: redisUrl };
    const retry = { maxAttempts: 3, baseDelayMs: 20, maxDelayMs: 100 };
    productBus = createEventBus(busConfig, { service: 'product', logger, prefix, retry });
    orderBus = createEventBus(busConfig, { service: 'order', logger, prefix, retry });
    await orderBus.subscribe({
      group: 'order',
      eventTypes: ['inventory.reserved', 'inventory.rejected'],
      handler: async (event) => {
        outcomes.push(event);
      },
    });
    const config = loadProductConfig({
      MONGO_URL: mongo.url,
      JWT_PUBLIC_KEY: testJwtPublicKey(),
      PORT: '0',
      HOST: '127.0.0.1',
      LOG_LEVEL: 'silent',
      CACHE_DRIVER: 'memory',
    });
    service = await startProductService({ config, bus: productBus });
  });

  afterAll(async () => {
    await service?.stop();
    await productBus?.close();
    await orderBus?.close();
    await mongo?.cleanup();
    const admin = new Redis(redisUrl);
    const keys = await admin.keys(`${prefix}*`);
    if (keys.length > 0) await admin.del(...keys);
    await admin.quit();
  });

  it('reserves all-or-nothing, never oversells and handles a redelivered event once', async () => {
    const created = await request(service.app)
      .post('/api/products')
      .set('Authorization', tokenFor(seller))
      .send({ name: 'Streamed', price: 7.25, inventory: 5 });
    const productId = created.body.id as string;
    const orders = [newOrderId(), newOrderId(), newOrderId()];
    const events = orders.map((orderId) =>
      createEvent('order-service', 'order.created', {
        orderId,
        userId: 'customer-1',
        items: [{ productId, quantity: 2, unitPrice: 7.25, name: 'Streamed' }],
        total: { amount: 1450, currency: 'USD' },
        payment: null,
      }),
    );
    await Promise.all(events.map((e) => orderBus.publish(e)));
    await orderBus.publish(events[0]); // at-least-once: the same event again
    const forOurs = () =>
      outcomes.filter((e) => orders.includes((e.data as { orderId: string }).orderId));
    await until('three outcomes', () => (forOurs().length >= 3 ? true : undefined));
    // Give the duplicate time to be (not) handled.
    await new Promise((resolve) => setTimeout(resolve, 300));
    const types = forOurs()
      .map((e) => e.eventType)
      .sort();
    expect(types).toEqual(['inventory.rejected', 'inventory.reserved', 'inventory.reserved']);
    const detail = await request(service.app).get(`/api/products/${productId}`);
    expect(detail.body.inventory).toMatchObject({ available: 1, reserved: 4 });
  });
});
