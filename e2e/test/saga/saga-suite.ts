import request from 'supertest';
import { Saga, address, bearer, customer, eventually, type BusKind } from './harness';

/**
 * The order saga end to end (docs/architecture.md) over one bus adapter. Each adapter runs this in a
 * test file of its own so jest runs them in parallel.
 */
export function sagaSuite(kind: BusKind, url?: string): void {
  let saga: Saga;

  beforeAll(async () => {
    saga = await new Saga({ kind, label: `saga_${kind}`, url }).start();
  }, 60000);

  afterAll(async () => {
    await saga?.close();
  }, 30000);

  it('tok_visa: order CONFIRMED, stock sold, payment completed; one correlation id on every event and log line', async () => {
    const productId = await saga.createProduct(10, 12.5);
    const order = await saga.placeOrder([{ productId, quantity: 3 }], 'tok_visa');
    expect(order.total).toBe(3750);
    await saga.waitOrder(order.id, 'CONFIRMED');
    await eventually(async () => (await saga.stock(productId)).sold === 3, 'stock sold');
    expect(await saga.stock(productId)).toEqual({ available: 7, reserved: 0, sold: 3 });
    const payment = await saga.paymentRow(order.id);
    expect(payment?.status).toBe('COMPLETED');
    expect(saga.gateway.callsFor(`${order.id}:1`)).toBe(1);

    // The spy reads the bus as a consumer of its own, and may be behind the services.
    await eventually(() => saga.of('order.confirmed', order.id).length > 0, 'the spy saw it all');
    const types = saga.forOrder(order.id).map((e) => e.eventType);
    for (const type of [
      'order.created',
      'inventory.reserved',
      'payment.initiated',
      'payment.completed',
      'order.confirmed',
    ]) {
      expect(types).toContain(type);
    }
    for (const event of saga.forOrder(order.id)) {
      expect(event.metadata.correlationId).toBe(order.correlationId);
    }
    // Each event names its cause: reserved ← created, confirmed ← completed, and completed ← the
    // event that let payment charge: inventory.reserved, or order.created when payment handled
    // that one second (both are consumed by payment; the bus does not order them).
    const [created] = saga.of('order.created', order.id);
    const [reserved] = saga.of('inventory.reserved', order.id);
    const [completed] = saga.of('payment.completed', order.id);
    expect(reserved!.metadata.causationId).toBe(created!.eventId);
    expect([reserved!.eventId, created!.eventId]).toContain(completed!.metadata.causationId);
    expect(saga.of('order.confirmed', order.id)[0]!.metadata.causationId).toBe(completed!.eventId);

    // Every log line of order and payment (and their buses) about this saga carries its correlation id.
    const sagaEventIds = new Set(saga.forOrder(order.id).map((e) => e.eventId));
    const lines = saga.logs.filter(
      (l) =>
        l.orderId === order.id ||
        (l.eventId && sagaEventIds.has(l.eventId)) ||
        l.correlationId === order.correlationId,
    );
    expect(lines.length).toBeGreaterThan(5);
    expect(lines.filter((l) => l.correlationId !== order.correlationId)).toEqual([]);

    const view = await request(saga.order.app)
      .get(`/api/orders/${order.id}/history`)
      .set('Authorization', bearer(customer));
    expect(view.body.history.map((h: { to: string }) => h.to)).toEqual([
      'PENDING',
      'PAYMENT_PROCESSING',
      'CONFIRMED',
    ]);
  });

  it("a cart checked out: one order through the saga to CONFIRMED, the cart's lines sold", async () => {
    const productId = await saga.createProduct(10, 12.5);
    const cart = () => request(saga.order.app);
    const as = bearer(customer);
    const added = await cart()
      .post('/api/carts/mine/items')
      .set('Authorization', as)
      .send({ productId, quantity: 2 });
    // Live stock from product itself, not a stand-in.
    expect(added.body.lines[0]).toMatchObject({ available: 10, inStock: true });
    const checkout = () =>
      cart()
        .post('/api/carts/mine/checkout')
        .set('Authorization', as)
        .set('Idempotency-Key', `cart-${productId}`)
        .send({ payment: { method: 'card', token: 'tok_visa' }, shippingAddress: address });
    const [first, second] = await Promise.all([checkout(), checkout()]);
    expect([first.status, second.status]).toEqual([201, 201]);
    expect(second.body.id).toBe(first.body.id);
    expect(first.body.total.amount).toBe(2500);
    await saga.waitOrder(first.body.id, 'CONFIRMED');
    await eventually(async () => (await saga.stock(productId)).sold === 2, 'stock sold');
    expect(saga.of('order.created', first.body.id)).toHaveLength(1);
    expect(saga.gateway.callsFor(`${first.body.id}:1`)).toBe(1);
    const after = await cart().get('/api/carts/mine').set('Authorization', as);
    expect(after.body.lines).toEqual([]);
  });

  it('tok_chargeDeclined: order FAILED, stock back, nothing charged', async () => {
    const productId = await saga.createProduct(5);
    const order = await saga.placeOrder([{ productId, quantity: 2 }], 'tok_chargeDeclined');
    await saga.waitOrder(order.id, 'FAILED');
    await eventually(async () => (await saga.stock(productId)).reserved === 0, 'stock released');
    expect(await saga.stock(productId)).toEqual({ available: 5, reserved: 0, sold: 0 });
    expect((await saga.paymentRow(order.id))?.status).toBe('FAILED');
    await eventually(
      () => saga.of('order.failed', order.id).length > 0 && saga.of('payment.failed', order.id)[0],
      'the spy saw the failure',
    );
    expect(saga.of('payment.completed', order.id)).toHaveLength(0);
    expect(saga.of('payment.failed', order.id)[0]!.data).toMatchObject({
      code: 'card_declined',
      retryable: false,
    });
    expect(saga.of('order.failed', order.id)).toHaveLength(1);
  });

  it('quantity above stock: order FAILED, no payment attempted', async () => {
    const productId = await saga.createProduct(2);
    const order = await saga.placeOrder([{ productId, quantity: 3 }], 'tok_visa');
    await saga.waitOrder(order.id, 'FAILED');
    await eventually(
      async () => (await saga.paymentRow(order.id))?.status === 'CANCELLED',
      'payment cancelled',
    );
    await saga.settle();
    expect(saga.of('inventory.rejected', order.id)[0]!.data).toMatchObject({
      productId,
      reason: 'INSUFFICIENT_STOCK',
    });
    expect((await saga.paymentRow(order.id))?.attempts).toBe(0);
    expect(saga.of('payment.initiated', order.id)).toHaveLength(0);
    expect(saga.gateway.calls.filter((c) => c.idempotencyKey.startsWith(order.id))).toHaveLength(0);
    expect(await saga.stock(productId)).toEqual({ available: 2, reserved: 0, sold: 0 });
  });

  it('cancel after confirmation: refund and restock', async () => {
    const productId = await saga.createProduct(8);
    const order = await saga.placeOrder([{ productId, quantity: 4 }], 'tok_visa');
    await saga.waitOrder(order.id, 'CONFIRMED');
    await eventually(async () => (await saga.stock(productId)).sold === 4, 'sold');
    const res = await request(saga.order.app)
      .put(`/api/orders/${order.id}/cancel`)
      .set('Authorization', bearer(customer))
      .send({ reason: 'no longer needed' });
    expect(res.status).toBe(200);
    await eventually(
      async () => (await saga.paymentRow(order.id))?.status === 'REFUNDED',
      'refunded',
    );
    await eventually(async () => (await saga.stock(productId)).available === 8, 'restocked');
    expect(await saga.stock(productId)).toEqual({ available: 8, reserved: 0, sold: 0 });
    const refunded = await eventually(
      () => saga.of('payment.refunded', order.id)[0],
      'payment.refunded',
    );
    expect(refunded.data).toMatchObject({
      amount: { amount: 5000, currency: 'USD' },
      fullyRefunded: true,
    });
    await eventually(async () => {
      const got = await request(saga.order.app)
        .get(`/api/orders/${order.id}`)
        .set('Authorization', bearer(customer));
      return got.body.refunded.amount === 5000;
    }, 'order shows the refund');
  });

  it('the same events delivered twice: one reservation, one charge', async () => {
    const productId = await saga.createProduct(6);
    const order = await saga.placeOrder([{ productId, quantity: 2 }], 'tok_visa');
    await saga.waitOrder(order.id, 'CONFIRMED');
    for (const type of ['order.created', 'inventory.reserved', 'payment.completed']) {
      // The spy reads the bus as a consumer of its own: it may see an event after the order
      // that took it has moved on.
      await saga.redeliver(
        await eventually(() => saga.of(type, order.id)[0], `the spy saw ${type}`),
      );
    }
    await saga.settle(500);
    expect(saga.of('order.created', order.id).length).toBeGreaterThanOrEqual(2); // really redelivered
    expect(await saga.reservations(order.id)).toBe(1);
    expect(await saga.stock(productId)).toEqual({ available: 4, reserved: 0, sold: 2 });
    expect(saga.gateway.calls.filter((c) => c.idempotencyKey.startsWith(order.id))).toHaveLength(1);
    expect(saga.of('payment.completed', order.id)).toHaveLength(2); // the original and our copy
    expect(new Set(saga.of('payment.completed', order.id).map((e) => e.eventId)).size).toBe(1);
    expect(saga.of('order.confirmed', order.id)).toHaveLength(1);
    expect(await saga.orderStatus(order.id)).toBe('CONFIRMED');
  });

  it('an order without payment details waits, then is paid through POST /api/payments/initiate', async () => {
    const productId = await saga.createProduct(3);
    const order = await saga.placeOrder([{ productId, quantity: 1 }], null);
    await saga.waitOrder(order.id, 'AWAITING_PAYMENT');
    await eventually(
      async () => (await saga.paymentRow(order.id))?.status === 'AWAITING_PAYMENT',
      'payment awaiting',
    );
    const declined = await request(saga.payment.app)
      .post('/api/payments/initiate')
      .set('Authorization', bearer(customer))
      .send({ orderId: order.id, payment: { method: 'card', token: 'tok_insufficientFunds' } });
    expect(declined.status).toBe(402);
    await eventually(() => saga.of('payment.failed', order.id).length === 1, 'payment.failed');
    // The test's tap and order's consumer see payment.failed independently: wait for order's.
    await saga.waitOrder(order.id, 'AWAITING_PAYMENT');
    const paid = await request(saga.payment.app)
      .post('/api/payments/initiate')
      .set('Authorization', bearer(customer))
      .send({ orderId: order.id, payment: { method: 'card', token: 'tok_visa' } });
    expect(paid.status).toBe(201);
    await saga.waitOrder(order.id, 'CONFIRMED');
    await eventually(async () => (await saga.stock(productId)).sold === 1, 'sold');
  });

  if (kind !== 'memory') {
    // The in-memory bus keeps nothing for a consumer that is gone (it is the embedded/test bus);
    // durability across a consumer restart is what the real adapters are for.
    it('payment stopped mid-saga and restarted: the saga completes, nothing lost', async () => {
      const productId = await saga.createProduct(4);
      await saga.stopPayment();
      const order = await saga.placeOrder([{ productId, quantity: 1 }], 'tok_visa');
      await saga.waitOrder(order.id, 'PAYMENT_PROCESSING'); // reserved; payment is down
      await saga.settle(300);
      expect(saga.gateway.calls.filter((c) => c.idempotencyKey.startsWith(order.id))).toHaveLength(
        0,
      );
      await saga.startPayment();
      await saga.waitOrder(order.id, 'CONFIRMED');
      await eventually(async () => (await saga.stock(productId)).sold === 1, 'sold');
      expect(saga.gateway.callsFor(`${order.id}:1`)).toBe(1);
      for (const event of saga.forOrder(order.id)) {
        expect(event.metadata.correlationId).toBe(order.correlationId);
      }
    });
  }
}
