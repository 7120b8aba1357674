import { randomBytes } from 'node:crypto';
import Redis from 'ioredis';
import request from 'supertest';
import { createEvent, createEventBus, type EventBus, type EventEnvelope } from '@ecom/common/bus';
import { createLogger } from '@ecom/common/logging';
import {
  bearer,
  createTestMongo,
  describeIfServer,
  eventually,
  type TestMongo,
} from '@ecom/test-support';
import { productService, type RunningProductService } from '../src/service';
import { newOrderId, orderCreated, seller, testConfig } from './support/helpers';

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
    service = await productService.start({ config: testConfig(mongo.url), bus: productBus });
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

  it('reserves all-or-nothing, never oversells and moves stock once for a redelivered event', async () => {
    const created = await request(service.app)
      .post('/api/products')
      .set('Authorization', bearer(seller))
      .send({ name: 'Streamed', price: 7.25, inventory: 5 });
    const productId = created.body.id as string;
    const orders = [newOrderId(), newOrderId(), newOrderId()];
    const events = orders.map((orderId) =>
      createEvent(
        'order-service',
        'order.created',
        orderCreated(orderId, [{ productId, quantity: 2 }], 725),
      ),
    );
    await Promise.all(events.map((e) => orderBus.publish(e)));
    await orderBus.publish(events[0]); // at-least-once: the same event again
    const forOurs = () =>
      outcomes.filter((e) => orders.includes((e.data as { orderId: string }).orderId));
    // The redelivery announces the first order's stored outcome again.
    await eventually(() => forOurs().length >= 4, { timeoutMs: 15_000, what: 'four outcomes' });
    const byOrder = orders.map((orderId) =>
      forOurs()
        .filter((e) => (e.data as { orderId: string }).orderId === orderId)
        .map((e) => e.eventType),
    );
    expect(byOrder[0]).toHaveLength(2);
    expect(new Set(byOrder[0]).size).toBe(1);
    expect(byOrder.map((types) => types[0]).sort()).toEqual([
      'inventory.rejected',
      'inventory.reserved',
      'inventory.reserved',
    ]);
    const detail = await request(service.app).get(`/api/products/${productId}`);
    expect(detail.body.inventory).toMatchObject({ available: 1, reserved: 4 });
  });
});
