import request from 'supertest';
import { createEvent } from '@ecom/common/bus';
import { bearer } from '@ecom/test-support';
import { Types } from 'mongoose';
import { createLogger } from '@ecom/common/logging';
import { InventoryService } from '../src/application/inventory';
import type { StockStore } from '../src/domain/ports';
import { productService, type RunningProductService } from '../src/service';
import { createStores } from '../src/store';
import {
  admin,
  newOrderId,
  orderConfirmed,
  orderCreated,
  seller,
  useHarness,
} from './support/helpers';

const h = useHarness('product_saga');

/** A seller's edit of a product (its price or currency, here). */
async function edit(id: string, changes: Record<string, unknown>): Promise<void> {
  const res = await request(h.service.app)
    .put(`/api/products/${id}`)
    .set('Authorization', bearer(seller))
    .send(changes);
  expect(res.status).toBe(200);
}

async function product(inventory: number, lowStockThreshold = 0): Promise<string> {
  const res = await request(h.service.app)
    .post('/api/products')
    .set('Authorization', bearer(seller))
    .send({ name: 'Saga item', price: 12.5, inventory, lowStockThreshold });
  expect(res.status).toBe(201);
  return res.body.id as string;
}

interface StockDoc {
  available: number;
  reserved: number;
  sold: number;
  holds: Array<{ orderId: string; quantity: number }>;
}

async function stock(id: string): Promise<StockDoc> {
  const doc = await h.service.connection
    .collection('products')
    .findOne(
      { _id: new Types.ObjectId(id) },
      { projection: { available: 1, reserved: 1, sold: 1, holds: 1 } },
    );
  if (!doc) throw new Error(`no product ${id}`);
  return { available: doc.available, reserved: doc.reserved, sold: doc.sold, holds: doc.holds };
}

async function reservation(orderId: string) {
  return h.service.connection.collection('reservations').findOne({ orderId });
}

const forOrder = (type: string, orderId: string) =>
  h.publishedOf(type).filter((d) => d.orderId === orderId);

describe('order.created', () => {
  it('refuses an order that charges a price the product no longer has (PRICE_CHANGED), holding nothing of any line', async () => {
    const a = await product(5);
    const b = await product(5);
    await edit(b, { price: 13 });
    const orderId = newOrderId();
    // Priced at 12.50 for both lines, from a quote of before the change.
    await h.deliver(
      'order.created',
      orderCreated(orderId, [
        { productId: a, quantity: 1 },
        { productId: b, quantity: 2 },
      ]),
    );
    expect(forOrder('inventory.rejected', orderId)).toEqual([
      { orderId, productId: b, reason: 'PRICE_CHANGED', requested: 2, available: 5 },
    ]);
    expect(forOrder('inventory.reserved', orderId)).toEqual([]);
    expect(await stock(a)).toMatchObject({ available: 5, reserved: 0, holds: [] });
    expect(await stock(b)).toMatchObject({ available: 5, reserved: 0, holds: [] });

    // At the product's price it is reserved.
    const next = newOrderId();
    await h.deliver('order.created', orderCreated(next, [{ productId: b, quantity: 2 }], 1300));
    expect(forOrder('inventory.reserved', next)).toHaveLength(1);
  });

  it('refuses an order in a currency the product no longer asks (PRICE_CHANGED), though the amount is the same', async () => {
    const a = await product(5);
    await edit(a, { currency: 'EUR' });
    const orderId = newOrderId();
    await h.deliver('order.created', orderCreated(orderId, [{ productId: a, quantity: 1 }])); // 12.50 USD
    expect(forOrder('inventory.rejected', orderId)).toEqual([
      { orderId, productId: a, reason: 'PRICE_CHANGED', requested: 1, available: 5 },
    ]);
    expect(await stock(a)).toMatchObject({ available: 5, reserved: 0, holds: [] });
  });

  it('a redelivered order.created keeps its reservation when the price changed after its hold', async () => {
    const a = await product(5);
    const orderId = newOrderId();
    const created = orderCreated(orderId, [{ productId: a, quantity: 2 }]);
    await h.deliver('order.created', created);
    await edit(a, { price: 20 });
    await h.deliver('order.created', created);
    expect(forOrder('inventory.reserved', orderId)).toHaveLength(2);
    expect(forOrder('inventory.rejected', orderId)).toEqual([]);
    expect(await stock(a)).toMatchObject({ available: 3, reserved: 2 });
  });

  it('reserves every line and announces the reserved lines', async () => {
    const a = await product(5);
    const b = await product(3);
    const orderId = newOrderId();
    const event = await h.deliver(
      'order.created',
      orderCreated(orderId, [
        { productId: a, quantity: 2 },
        { productId: b, quantity: 3 },
        { productId: a, quantity: 1 },
      ]),
    );
    expect(await stock(a)).toEqual({
      available: 2,
      reserved: 3,
      sold: 0,
      holds: [{ orderId, quantity: 3 }],
    });
    expect(await stock(b)).toMatchObject({ available: 0, reserved: 3 });
    expect(forOrder('inventory.reserved', orderId)).toEqual([
      {
        orderId,
        items: [
          { productId: a, quantity: 3 },
          { productId: b, quantity: 3 },
        ],
      },
    ]);
    const announced = h.published.find(
      (e) =>
        e.eventType === 'inventory.reserved' && (e.data as { orderId: string }).orderId === orderId,
    );
    expect(announced?.metadata).toEqual({
      correlationId: event.metadata.correlationId,
      causationId: event.eventId,
    });
    expect(announced?.source).toBe('product-service');
    expect((await reservation(orderId))?.status).toBe('reserved');
  });

  it('is all or nothing: names the first failing line and gives back the lines already held', async () => {
    const a = await product(5);
    const b = await product(1);
    const c = await product(5);
    const orderId = newOrderId();
    await h.deliver(
      'order.created',
      orderCreated(orderId, [
        { productId: a, quantity: 2 },
        { productId: b, quantity: 2 },
        { productId: c, quantity: 1 },
      ]),
    );
    expect(forOrder('inventory.rejected', orderId)).toEqual([
      { orderId, productId: b, reason: 'INSUFFICIENT_STOCK', requested: 2, available: 1 },
    ]);
    expect(forOrder('inventory.reserved', orderId)).toEqual([]);
    expect(await stock(a)).toEqual({ available: 5, reserved: 0, sold: 0, holds: [] });
    expect(await stock(b)).toEqual({ available: 1, reserved: 0, sold: 0, holds: [] });
    expect(await stock(c)).toEqual({ available: 5, reserved: 0, sold: 0, holds: [] });
    expect((await reservation(orderId))?.status).toBe('rejected');
  });

  it('rejects unknown, malformed and deleted products with their reason', async () => {
    const ok = await product(5);
    const gone = await product(5);
    await request(h.service.app)
      .delete(`/api/products/${gone}`)
      .set('Authorization', bearer(admin))
      .expect(204);
    const cases: Array<[string, string]> = [
      ['0123456789abcdef01234567', 'UNKNOWN_PRODUCT'],
      ['not-an-object-id', 'UNKNOWN_PRODUCT'],
      [gone, 'PRODUCT_UNAVAILABLE'],
    ];
    for (const [productId, reason] of cases) {
      const orderId = newOrderId();
      await h.deliver(
        'order.created',
        orderCreated(orderId, [
          { productId: ok, quantity: 1 },
          { productId, quantity: 1 },
        ]),
      );
      expect(forOrder('inventory.rejected', orderId)).toEqual([
        { orderId, productId, reason, requested: 1, available: 0 },
      ]);
    }
    expect(await stock(ok)).toMatchObject({ available: 5, reserved: 0, holds: [] });
  });

  it('moves stock once for the same event twice and for the same order under a new eventId', async () => {
    const a = await product(10);
    const orderId = newOrderId();
    const event = createEvent(
      'order-service',
      'order.created',
      orderCreated(orderId, [{ productId: a, quantity: 4 }]),
    );
    await h.bus.publish(event);
    await h.bus.publish(event);
    await h.settle();
    expect(await stock(a)).toMatchObject({ available: 6, reserved: 4, holds: [{ orderId }] });
    // The reservation is the guard, not a processed marker: the redelivery found it and
    // announced the stored outcome again (order ignores a step already taken).
    const announced = { orderId, items: [{ productId: a, quantity: 4 }] };
    expect(forOrder('inventory.reserved', orderId)).toEqual([announced, announced]);
    expect(
      await h.service.connection
        .collection('processed_events')
        .countDocuments({ eventId: event.eventId }),
    ).toBe(0);

    await h.deliver('order.created', orderCreated(orderId, [{ productId: a, quantity: 4 }]));
    expect(await stock(a)).toMatchObject({ available: 6, reserved: 4 });
    expect(forOrder('inventory.reserved', orderId)).toHaveLength(3);
    expect(await h.service.connection.collection('reservations').countDocuments({ orderId })).toBe(
      1,
    );
  });

  it('publishes product.inventory.low once when a reservation takes stock under the threshold', async () => {
    const a = await product(6, 3);
    await h.deliver('order.created', orderCreated(newOrderId(), [{ productId: a, quantity: 2 }]));
    expect(h.publishedOf('product.inventory.low').filter((d) => d.productId === a)).toEqual([]);
    await h.deliver('order.created', orderCreated(newOrderId(), [{ productId: a, quantity: 2 }]));
    await h.deliver('order.created', orderCreated(newOrderId(), [{ productId: a, quantity: 1 }]));
    expect(h.publishedOf('product.inventory.low').filter((d) => d.productId === a)).toEqual([
      { productId: a, available: 2, threshold: 3 },
    ]);
  });

  it('dead-letters an invalid payload at once, with the reason, without touching stock', async () => {
    const a = await product(3);
    const negative = orderCreated(newOrderId(), [{ productId: a, quantity: -1 }]);
    const injected = orderCreated(newOrderId(), [{ productId: a, quantity: 1 }]);
    (injected.items[0] as { quantity: unknown }).quantity = { $gt: 0 };
    const events = [await h.deliver('order.created', negative)];
    events.push(await h.deliver('order.created', injected));
    expect(await stock(a)).toMatchObject({ available: 3, reserved: 0 });
    const dead = h.bus.deadLetters.filter(
      (d) => d.group === 'product' && events.some((e) => e.eventId === d.event?.eventId),
    );
    expect(dead.map((d) => [d.attempts, d.reason])).toEqual([
      [1, 'invalid order.created payload: items.0.quantity: number.min'],
      [1, 'invalid order.created payload: items.0.quantity: number.base'],
    ]);
    expect(forOrder('inventory.rejected', negative.orderId)).toEqual([]);
    const metrics = (await request(h.service.app).get('/metrics')).text;
    expect(metrics).toMatch(
      /events_dead_lettered_total\{[^}]*group="product"[^}]*event_type="order.created"[^}]*\} 2/,
    );
  });
});

describe('two deliveries of one order.created at once (two replicas)', () => {
  it('the one refused a line gives back no hold of the order the other reserved', async () => {
    const a = await product(5);
    const b = await product(1);
    const other = newOrderId();
    const orderId = newOrderId();
    // A fresh set of models on the same database: the stores another replica would use.
    const stores = await createStores(
      h.service.connection.useDb(h.service.connection.name, { useCache: false }),
      'regex',
    );
    await stores.stock.hold(b, other, 1); // b's one unit is taken for now
    // Replica 1 holds line a for the order, and has not recorded anything yet.
    await stores.stock.hold(a, orderId, 2);
    // Replica 2 finds a held (its hold is replica 1's), is refused b, and, before it records
    // its outcome, b is freed and replica 1 holds it and records the order as reserved.
    const racing: StockStore = {
      sellHold: (...args) => stores.stock.sellHold(...args),
      restockSold: (...args) => stores.stock.restockSold(...args),
      hold: async (productId, order, quantity) => {
        const result = await stores.stock.hold(productId, order, quantity);
        if (productId === b && !result.ok) {
          await stores.stock.releaseHold(b, other, 1);
          await stores.stock.hold(b, orderId, 1);
          await stores.reservations.create({
            orderId,
            lines: [
              { productId: a, quantity: 2 },
              { productId: b, quantity: 1 },
            ],
            status: 'reserved',
            rejection: null,
          });
        }
        return result;
      },
      releaseHold: (...args) => stores.stock.releaseHold(...args),
    };
    const announced: string[] = [];
    const replica2 = new InventoryService({
      stock: racing,
      reservations: stores.reservations,
      publish: async (type) => void announced.push(type),
      stockChanged: async () => undefined,
      logger: createLogger('replica-2', 'silent'),
    });
    const outcome = await replica2.reserve(orderId, [
      { productId: a, quantity: 2 },
      { productId: b, quantity: 1 },
    ]);
    // The record said reserved: replica 2 announced that and kept every hold of the order.
    expect(outcome).toMatchObject({ outcome: 'reserved' });
    expect(announced).toEqual(['inventory.reserved']);
    expect(await stock(a)).toMatchObject({ available: 3, reserved: 2, holds: [{ orderId }] });
    expect(await stock(b)).toMatchObject({ available: 0, reserved: 1, holds: [{ orderId }] });
  });

  it('a redelivery gives back what a run that recorded a rejection and then crashed still held', async () => {
    const a = await product(5);
    const orderId = newOrderId();
    // The crashed run: held a, recorded the order as rejected, died before giving a back.
    await h.service.connection
      .collection<{ holds: Array<{ orderId: string; quantity: number }> }>('products')
      .updateOne(
        { _id: new Types.ObjectId(a) },
        { $inc: { available: -2, reserved: 2 }, $push: { holds: { orderId, quantity: 2 } } },
      );
    await h.service.connection.collection('reservations').insertOne({
      orderId,
      lines: [{ productId: a, quantity: 2 }],
      status: 'rejected',
      rejection: { productId: a, reason: 'INSUFFICIENT_STOCK', requested: 2, available: 0 },
      checkedAt: null,
      createdAt: new Date(),
      updatedAt: new Date(),
    });
    await h.deliver('order.created', orderCreated(orderId, [{ productId: a, quantity: 2 }]));
    expect(await stock(a)).toEqual({ available: 5, reserved: 0, sold: 0, holds: [] });
    expect(forOrder('inventory.rejected', orderId)).toHaveLength(1);
  });

  it('a replayed order.created after a confirm that crashed mid-sale moves no stock, and the retried confirm sells the hold', async () => {
    const a = await product(5);
    const orderId = newOrderId();
    await h.deliver('order.created', orderCreated(orderId, [{ productId: a, quantity: 2 }]));
    expect(await stock(a)).toMatchObject({ available: 3, reserved: 2, sold: 0 });
    // The crashed confirm: the record was claimed as sold, the hold never sold.
    await h.service.connection
      .collection('reservations')
      .updateOne({ orderId }, { $set: { status: 'sold' } });
    // A restart's relay sends the order's events again, order.created first.
    await h.deliver('order.created', orderCreated(orderId, [{ productId: a, quantity: 2 }]));
    expect(await stock(a)).toMatchObject({
      available: 3,
      reserved: 2,
      sold: 0,
      holds: [{ orderId }],
    });
    await h.deliver('order.confirmed', orderConfirmed(orderId, [{ productId: a, quantity: 2 }]));
    expect(await stock(a)).toEqual({ available: 3, reserved: 0, sold: 2, holds: [] });
  });
});

describe("the saga's store commands", () => {
  it('go through the driver, and keep the schema shape, defaults and timestamps', async () => {
    const a = await product(5);
    const models = ['Product', 'Reservation'].map((name) => h.service.connection.model(name));
    // Every way mongoose reads or writes: its queries, its bulk calls and a document's save.
    const methods = [
      'create',
      'insertMany',
      'find',
      'findOne',
      'exists',
      'countDocuments',
      'findOneAndUpdate',
      'findOneAndReplace',
      'updateOne',
      'updateMany',
      'replaceOne',
      'bulkWrite',
    ] as const;
    const spies = models.flatMap((model) => [
      ...methods.map((method) => ({
        name: `${model.modelName}.${method}`,
        spy: jest.spyOn(model, method as 'findOne'),
      })),
      { name: `${model.modelName}#save`, spy: jest.spyOn(model.prototype, 'save') },
    ]);
    const orderId = newOrderId();
    const before = Date.now();
    let confirmAt = 0;
    try {
      await h.deliver('order.created', orderCreated(orderId, [{ productId: a, quantity: 2 }]));
      // A clock step between the two, so the sale's timestamps are told from the reservation's.
      await new Promise((resolve) => setTimeout(resolve, 5));
      confirmAt = Date.now();
      await h.deliver('order.confirmed', orderConfirmed(orderId, [{ productId: a, quantity: 2 }]));
      // No mongoose query or document: its casting cost more than the command.
      expect(spies.filter((s) => s.spy.mock.calls.length > 0).map((s) => s.name)).toEqual([]);
    } finally {
      for (const s of spies) s.spy.mockRestore();
    }
    const row = await reservation(orderId);
    expect(Object.keys(row ?? {}).sort()).toEqual([
      '_id',
      'checkedAt',
      'createdAt',
      'lines',
      'orderId',
      'rejection',
      'status',
      'updatedAt',
    ]);
    expect(row).toMatchObject({
      orderId,
      lines: [{ productId: a, quantity: 2 }],
      status: 'sold',
      rejection: null,
      checkedAt: null,
    });
    expect(row?._id).toBeInstanceOf(Types.ObjectId);
    // The move to 'sold' dated the change (the reconciler reads updatedAt).
    expect(row?.createdAt.getTime()).toBeGreaterThanOrEqual(before);
    expect(row?.createdAt.getTime()).toBeLessThan(confirmAt);
    expect(row?.updatedAt.getTime()).toBeGreaterThanOrEqual(confirmAt);
    const moved = await h.service.connection
      .collection('products')
      .findOne({ _id: new Types.ObjectId(a) }, { projection: { updatedAt: 1 } });
    expect(moved?.updatedAt.getTime()).toBeGreaterThanOrEqual(confirmAt);
  });
});

describe('after the reservation', () => {
  /** A product `a` of 5 in stock, and an order of `quantity` of it that product reserved. */
  async function reservedOrderOf(quantity: number) {
    const a = await product(5);
    const orderId = newOrderId();
    await h.deliver('order.created', orderCreated(orderId, [{ productId: a, quantity }]));
    return { a, orderId };
  }

  it('order.confirmed turns the reservation into a sale, once', async () => {
    const { a, orderId } = await reservedOrderOf(2);
    const confirmed = orderConfirmed(orderId, [{ productId: a, quantity: 2 }]);
    // The claim returns the reservation it moved: one command on reservations, nothing read.
    const reservations = h.service.connection.model('Reservation').collection;
    const calls = ['findOne', 'findOneAndUpdate', 'updateOne', 'find'].map((name) =>
      jest.spyOn(reservations, name as 'findOne'),
    );
    try {
      await h.deliver('order.confirmed', confirmed);
      expect(calls.map((c) => c.mock.calls.length)).toEqual([0, 1, 0, 0]);
    } finally {
      for (const c of calls) c.mockRestore();
    }
    await h.deliver('order.confirmed', confirmed);
    expect(await stock(a)).toEqual({ available: 3, reserved: 0, sold: 2, holds: [] });
    expect((await reservation(orderId))?.status).toBe('sold');
  });

  it('order.failed releases the reservation, once, and a late confirm changes nothing', async () => {
    const { a, orderId } = await reservedOrderOf(2);
    const failed = { orderId, reason: 'payment declined', items: [{ productId: a, quantity: 2 }] };
    await h.deliver('order.failed', failed);
    await h.deliver('order.failed', failed);
    expect(await stock(a)).toEqual({ available: 5, reserved: 0, sold: 0, holds: [] });
    await h.deliver('order.confirmed', orderConfirmed(orderId, []));
    expect(await stock(a)).toEqual({ available: 5, reserved: 0, sold: 0, holds: [] });
    expect((await reservation(orderId))?.status).toBe('released');
  });

  it('order.cancelled of a confirmed order restocks the sale, once', async () => {
    const { a, orderId } = await reservedOrderOf(3);
    await h.deliver('order.confirmed', orderConfirmed(orderId, [{ productId: a, quantity: 3 }]));
    const cancelled = {
      orderId,
      userId: 'customer-1',
      reason: 'customer',
      previousStatus: 'CONFIRMED',
      items: [],
    };
    await h.deliver('order.cancelled', cancelled);
    await h.deliver('order.cancelled', cancelled);
    expect(await stock(a)).toEqual({ available: 5, reserved: 0, sold: 0, holds: [] });
  });

  it('order.cancelled of a partly shipped order restocks only the lines not shipped, once', async () => {
    const a = await product(5);
    const b = await product(4);
    const orderId = newOrderId();
    const lines = [
      { productId: a, quantity: 3 },
      { productId: b, quantity: 2 },
    ];
    await h.deliver('order.created', orderCreated(orderId, lines));
    await h.deliver('order.confirmed', orderConfirmed(orderId, lines));
    expect(await stock(a)).toMatchObject({ available: 2, sold: 3 });
    // `a` shipped; a full refund then ended the order: only `b` (and an id in another
    // spelling, and more than was sold, which count for nothing beyond the sale) comes back.
    const ended = {
      orderId,
      userId: 'customer-1',
      reason: 'REFUNDED',
      previousStatus: 'PARTIALLY_SHIPPED',
      items: [{ productId: b.toUpperCase(), quantity: 5 }],
    };
    await h.deliver('order.cancelled', ended);
    await h.deliver('order.cancelled', ended);
    expect(await stock(a)).toEqual({ available: 2, reserved: 0, sold: 3, holds: [] });
    expect(await stock(b)).toEqual({ available: 4, reserved: 0, sold: 0, holds: [] });
  });

  it('a partly shipped order ended before its order.confirmed arrived: shipped units stay sold', async () => {
    const a = await product(5);
    const b = await product(4);
    const orderId = newOrderId();
    const lines = [
      { productId: a, quantity: 3 },
      { productId: b, quantity: 2 },
    ];
    await h.deliver('order.created', orderCreated(orderId, lines));
    expect(await stock(a)).toMatchObject({ available: 2, reserved: 3 });
    // order.confirmed is late (dead-lettered, say): the order shipped `a`, then a full refund
    // ended it, and its order.cancelled comes first.
    await h.deliver('order.cancelled', {
      orderId,
      userId: 'customer-1',
      reason: 'REFUNDED',
      previousStatus: 'PARTIALLY_SHIPPED',
      items: [{ productId: b, quantity: 2 }],
    });
    await h.deliver('order.confirmed', orderConfirmed(orderId, lines));
    expect(await stock(a)).toEqual({ available: 2, reserved: 0, sold: 3, holds: [] });
    expect(await stock(b)).toEqual({ available: 4, reserved: 0, sold: 0, holds: [] });
  });

  it('order.cancelled of a reserved order releases it', async () => {
    const { a, orderId } = await reservedOrderOf(5);
    expect(await stock(a)).toMatchObject({ available: 0, reserved: 5 });
    await h.deliver('order.cancelled', {
      orderId,
      userId: 'c',
      reason: 'expired',
      previousStatus: 'AWAITING_PAYMENT',
      items: [],
    });
    expect(await stock(a)).toEqual({ available: 5, reserved: 0, sold: 0, holds: [] });
    const detail = await request(h.service.app).get(`/api/products/${a}`);
    expect(detail.body.inventory.available).toBe(5);
  });

  it('a cancel that overtakes order.created leaves a tombstone: the late order reserves nothing', async () => {
    const a = await product(5);
    const orderId = newOrderId();
    await h.deliver('order.cancelled', {
      orderId,
      userId: 'c',
      reason: 'customer',
      previousStatus: 'PENDING',
      items: [],
    });
    await h.deliver('order.created', orderCreated(orderId, [{ productId: a, quantity: 1 }]));
    expect(await stock(a)).toEqual({ available: 5, reserved: 0, sold: 0, holds: [] });
    expect(forOrder('inventory.reserved', orderId)).toEqual([]);
    expect(forOrder('inventory.rejected', orderId)).toEqual([]);
  });
});

describe('concurrent orders', () => {
  // Two more instances on the same database (own connections, own in-process locks), as two
  // replicas would be; HTTP-only, so the test drives their reservations itself, all at once.
  const replicas: RunningProductService[] = [];

  beforeAll(async () => {
    for (let i = 0; i < 2; i++) {
      replicas.push(
        await productService.start({
          config: { ...h.config, CACHE_DRIVER: 'off' },
          bus: h.bus,
          options: { consume: false },
        }),
      );
    }
  });
  afterAll(async () => {
    for (const r of replicas) await r.stop();
  });

  it('50 concurrent orders for the last 10 units: exactly 10 reserved, 40 rejected, stock 0', async () => {
    const a = await product(10);
    const orders = Array.from({ length: 50 }, () => newOrderId());
    let running = 0;
    let maxRunning = 0;
    await Promise.all(
      orders.map(async (orderId, i) => {
        running++;
        maxRunning = Math.max(maxRunning, running);
        await replicas[i % 2].inventory.reserve(orderId, [{ productId: a, quantity: 1 }]);
        running--;
      }),
    );
    await h.settle();
    expect(maxRunning).toBe(50);
    const reserved = h
      .publishedOf('inventory.reserved')
      .filter((d) => orders.includes(d.orderId as string));
    const rejected = h
      .publishedOf('inventory.rejected')
      .filter((d) => orders.includes(d.orderId as string));
    expect(reserved).toHaveLength(10);
    expect(rejected).toHaveLength(40);
    expect(
      rejected.every(
        (d) => d.reason === 'INSUFFICIENT_STOCK' && d.requested === 1 && d.available === 0,
      ),
    ).toBe(true);
    const s = await stock(a);
    expect(s).toMatchObject({ available: 0, reserved: 10, sold: 0 });
    expect(new Set(s.holds.map((x) => x.orderId))).toEqual(new Set(reserved.map((d) => d.orderId)));
    const statuses = await h.service.connection
      .collection('reservations')
      .aggregate([
        { $match: { orderId: { $in: orders } } },
        { $group: { _id: '$status', n: { $sum: 1 } } },
      ])
      .toArray();
    expect(Object.fromEntries(statuses.map((x) => [x._id, x.n]))).toEqual({
      reserved: 10,
      rejected: 40,
    });
  });

  it('multi-line orders racing stay all-or-nothing', async () => {
    const a = await product(5);
    const b = await product(3);
    const orders = Array.from({ length: 12 }, () => newOrderId());
    await Promise.all(
      orders.map((orderId, i) =>
        replicas[i % 2].inventory.reserve(orderId, [
          { productId: a, quantity: 1 },
          { productId: b, quantity: 1 },
        ]),
      ),
    );
    await h.settle();
    const reserved = h
      .publishedOf('inventory.reserved')
      .filter((d) => orders.includes(d.orderId as string));
    expect(reserved).toHaveLength(3);
    expect(await stock(a)).toMatchObject({ available: 2, reserved: 3 });
    expect(await stock(b)).toMatchObject({ available: 0, reserved: 3 });
  });
});
