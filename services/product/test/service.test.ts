import request from 'supertest';
import { createEvent, InMemoryEventBus } from '@ecom/common/bus';
import { bearer } from '@ecom/test-support';
import mongoose from 'mongoose';
import { productService } from '../src/service';
import {
  orderCreated,
  seller,
  settle,
  startHarness,
  testConfig,
  type Harness,
} from './support/helpers';

describe('productService.start', () => {
  let h: Harness;

  beforeAll(async () => {
    h = await startHarness('product_service', { SEARCH_MODE: 'regex' });
  });
  afterAll(async () => {
    await h.close();
  });

  it('listens on a free port and serves over real HTTP', async () => {
    expect(h.service.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(h.service.url).not.toMatch(/:0$/);
    const res = await fetch(`${h.service.url}/health/live`);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ status: 'ok', service: 'product' });
  });

  it('fails cleanly when its port is taken: its consumers refuse, nothing is handled', async () => {
    const bus = new InMemoryEventBus({ retry: { maxAttempts: 1 } });
    const taken = Number(new URL(h.service.url).port);
    await expect(
      productService.start({ config: { ...h.config, PORT: taken }, bus }),
    ).rejects.toThrow(/EADDRINUSE/);
    // The same database as the running instance: the failed one would leave a tombstone.
    await bus.publish(
      createEvent('order-service', 'order.cancelled', {
        orderId: 'o-port',
        userId: 'customer-1',
        reason: 'customer',
        previousStatus: 'PENDING',
        items: [],
      }),
    );
    await settle(bus);
    expect(bus.deadLetters.map((d) => d.reason)).toEqual(['product consumer is stopped']);
    expect(
      await h.service.connection.collection('reservations').findOne({ orderId: 'o-port' }),
    ).toBeNull();
    await bus.close();
  });

  it('searches by escaped case-insensitive substring in regex mode', async () => {
    const auth = bearer(seller);
    for (const [name, description] of [
      ['Phone case (blue)', 'fits most phones'],
      ['Headphones', 'over-ear'],
      ['Lamp', 'a.b pattern test'],
    ]) {
      await request(h.service.app)
        .post('/api/products')
        .set('Authorization', auth)
        .send({ name, price: 1, inventory: 1, description })
        .expect(201);
    }
    const names = async (q: string) =>
      (
        await request(h.service.app).get(`/api/products?sort=price&q=${encodeURIComponent(q)}`)
      ).body.items
        .map((p: { name: string }) => p.name)
        .sort();
    expect(await names('PHONE')).toEqual(['Headphones', 'Phone case (blue)']);
    expect(await names('(blue)')).toEqual(['Phone case (blue)']);
    expect(await names('a.b')).toEqual(['Lamp']);
    expect(await names('.*')).toEqual([]);
  });
});

describe('when the bus is down', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await startHarness('product_service_busdown');
  });
  afterEach(async () => {
    await h.close();
  });

  it('keeps the write and its event in the outbox, and reports not ready', async () => {
    await h.bus.close();
    const res = await request(h.service.app)
      .post('/api/products')
      .set('Authorization', bearer(seller))
      .send({ name: 'Written', price: 1, inventory: 1 });
    expect(res.status).toBe(201);
    expect((await request(h.service.app).get(`/api/products/${res.body.id}`)).status).toBe(200);
    const held = await h.service.outbox.model.find({ sentAt: null }).lean();
    expect(
      held.map((r) => [r.event.eventType, (r.event.data as { productId: string }).productId]),
    ).toEqual([['product.created', res.body.id]]);
    const metrics = await request(h.service.app).get('/metrics');
    expect(metrics.text).toMatch(
      /product_events_published_total\{[^}]*type="product.created"[^}]*result="ok"[^}]*\} 1/,
    );
    const ready = await request(h.service.app).get('/health/ready');
    expect(ready.status).toBe(200);
    expect(ready.body.status).toBe('degraded');
    expect(ready.body.checks.eventBus.status).toBe('down');
  });
});

describe('stop()', () => {
  let started: Harness | undefined;
  // close() stops the service again (idempotent) and removes bus and database, even after a failure.
  afterEach(async () => {
    await started?.close();
    started = undefined;
  });

  it('closes the server and MongoDB, and handles nothing more', async () => {
    const h = (started = await startHarness('product_service_stop'));
    const { server, connection, url } = h.service;
    await h.service.stop();
    expect(server.listening).toBe(false);
    expect(connection.readyState).toBe(0);
    await expect(fetch(`${url}/health/live`)).rejects.toThrow();
    // The shared bus still delivers: the stopped service refuses, so the event is not lost as "handled".
    await h.bus.publish(
      createEvent('order-service', 'order.confirmed', {
        orderId: 'o-after-stop',
        userId: 'customer-1',
        items: [],
        total: { amount: 0, currency: 'USD' },
      }),
    );
    await h.settle();
    expect(h.bus.deadLetters.map((d) => d.reason)).toContain('product consumer is stopped');
    await expect(h.service.stop()).resolves.toBeUndefined(); // idempotent
  });

  it('waits for a handler in flight before closing MongoDB', async () => {
    const h = (started = await startHarness('product_service_drain'));
    const created = await request(h.service.app)
      .post('/api/products')
      .set('Authorization', bearer(seller))
      .send({ name: 'Drain', price: 1, inventory: 2 });
    const productId = created.body.id as string;
    await h.bus.publish(
      createEvent(
        'order-service',
        'order.created',
        orderCreated('o-drain', [{ productId, quantity: 1 }], 100),
      ),
    );
    // Let the delivery start, then stop while it runs.
    await new Promise((resolve) => setImmediate(resolve));
    await new Promise((resolve) => setTimeout(resolve, 5));
    await h.service.stop();
    await h.settle();
    // The handler that was running finished its work (it was not cut off by the closing connection).
    expect(h.bus.deadLetters).toEqual([]);
    expect(h.publishedOf('inventory.reserved')).toEqual([
      { orderId: 'o-drain', items: [{ productId, quantity: 1 }] },
    ]);
    const check = await mongoose.createConnection(h.mongo.url).asPromise();
    try {
      const doc = await check
        .collection('products')
        .findOne({ _id: new mongoose.Types.ObjectId(productId) });
      expect(doc).toMatchObject({ available: 1, reserved: 1 });
    } finally {
      await check.close();
    }
  });

  it('refuses to start when MongoDB is unreachable, leaving nothing open', async () => {
    const bus = new InMemoryEventBus();
    const config = testConfig('mongodb://127.0.0.1:1/product_db', {
      MONGO_SERVER_SELECTION_TIMEOUT_MS: '300',
    });
    await expect(productService.start({ config, bus })).rejects.toThrow();
    await bus.close();
  });
});
