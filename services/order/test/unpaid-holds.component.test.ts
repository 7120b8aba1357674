import request from 'supertest';
import type { AuthUser } from '@ecom/common/auth';
import { createEvent } from '@ecom/common/bus';
import { eventually, requestsAs } from '@ecom/test-support';
import { startOrderUnderTest } from './support/helpers';

/**
 * An order placed without payment details holds stock while the customer pays: one account may
 * hold only so much of it (UNPAID_HOLD_MAX_ORDERS 3, UNPAID_HOLD_MAX_UNITS 100 by default).
 */
describe('stock held unpaid, per account (real PostgreSQL)', () => {
  let under: Awaited<ReturnType<typeof startOrderUnderTest>>;

  beforeAll(async () => {
    under = await startOrderUnderTest({
      label: 'order_unpaid_holds',
      products: [{ id: 'p-scarce', name: 'Scarce', priceCents: 500 }],
    });
  });

  afterAll(async () => {
    await under?.close();
  });

  const address = {
    name: 'Hoarder',
    line1: '1 Main St',
    city: 'Springfield',
    postalCode: '12345',
    country: 'US',
  };
  let users = 0;
  const newCustomer = (): AuthUser => ({ id: `customer-${++users}`, role: 'customer' });
  const post = (user: AuthUser, quantity: number, payment?: { method: 'card'; token: string }) =>
    requestsAs(() => request(under.service.app), user)
      .post('/api/orders')
      .send({
        items: [{ productId: 'p-scarce', quantity }],
        shippingAddress: address,
        ...(payment ? { payment } : {}),
      });
  const ordersOf = async (user: AuthUser) =>
    Number(
      (await under.pool.query('SELECT count(*) FROM orders WHERE user_id = $1', [user.id])).rows[0]
        .count,
    );
  const createdFor = (user: AuthUser) =>
    under.spy.events.filter((e) => (e.data as { userId?: string }).userId === user.id).length;

  it('refuses a fourth unpaid order with 422 UNPAID_HOLD_LIMIT, writing and publishing nothing', async () => {
    const user = newCustomer();
    for (let i = 0; i < 3; i++) expect((await post(user, 1)).status).toBe(201);
    await eventually(() => createdFor(user) === 3);
    const refused = await post(user, 1);
    expect(refused.status).toBe(422);
    expect(refused.body.error).toMatchObject({
      code: 'UNPAID_HOLD_LIMIT',
      details: { heldOrders: 3, heldUnits: 3, units: 1, maxOrders: 3, maxUnits: 100 },
    });
    expect(await ordersOf(user)).toBe(3);
    const outboxed = await under.pool.query(
      `SELECT count(*)::int AS n FROM event_outbox WHERE payload->'data'->>'userId' = $1`,
      [user.id],
    );
    expect(outboxed.rows[0].n).toBe(3);
    // Orders that come with payment details hold nothing unpaid: not counted, not refused.
    expect((await post(user, 1, { method: 'card', token: 'tok_visa' })).status).toBe(201);
    // Another account is not held back by this one.
    expect((await post(newCustomer(), 1)).status).toBe(201);
    await eventually(() => createdFor(user) === 4);
    expect(await ordersOf(user)).toBe(4);
  });

  it('counts units across the unpaid orders', async () => {
    const user = newCustomer();
    expect((await post(user, 60)).status).toBe(201);
    const over = await post(user, 41);
    expect(over.status).toBe(422);
    expect(over.body.error.details).toMatchObject({ heldOrders: 1, heldUnits: 60, units: 41 });
    expect((await post(user, 40)).status).toBe(201);
    expect(await ordersOf(user)).toBe(2);
    // One order alone over the units limit is refused too, with details it would have paid.
    expect((await post(newCustomer(), 101)).status).toBe(422);
    expect((await post(newCustomer(), 101, { method: 'card', token: 'tok_visa' })).status).toBe(
      201,
    );
  });

  it('frees the room once an unpaid order ends or is paid, not while it is being paid', async () => {
    const user = newCustomer();
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push((await post(user, 1)).body.id);
    expect((await post(user, 1)).status).toBe(422);
    await requestsAs(() => request(under.service.app), user)
      .put(`/api/orders/${ids[0]}/cancel`)
      .send({})
      .expect(200);
    expect((await post(user, 1)).status).toBe(201);
    expect((await post(user, 1)).status).toBe(422);

    const statusOf = async (id: string) =>
      (await under.pool.query('SELECT status FROM orders WHERE id = $1', [id])).rows[0].status;
    const deliver = (type: string, data: Record<string, unknown>) =>
      under.bus.publish(createEvent('test', type, data));
    const amount = { amount: 500, currency: 'USD' };
    await deliver('inventory.reserved', { orderId: ids[1], items: [] });
    await eventually(async () => (await statusOf(ids[1]!)) === 'AWAITING_PAYMENT');
    await deliver('payment.initiated', {
      paymentId: 'pay-1',
      orderId: ids[1],
      amount,
      attempt: 1,
      source: 'initiate',
    });
    await eventually(async () => (await statusOf(ids[1]!)) === 'PAYMENT_PROCESSING');
    // Being paid, it still holds its stock unpaid (a 3-D Secure check may never be finished).
    expect((await post(user, 1)).status).toBe(422);
    await deliver('payment.completed', { paymentId: 'pay-1', orderId: ids[1], amount });
    await eventually(async () => (await statusOf(ids[1]!)) === 'CONFIRMED');
    expect((await post(user, 1)).status).toBe(201);
  });

  it('lets no burst of concurrent unpaid orders of one account pass the limit together', async () => {
    for (let round = 0; round < 3; round++) {
      const user = newCustomer();
      const answers = await Promise.all(Array.from({ length: 8 }, () => post(user, 1)));
      const statuses = answers.map((a) => a.status).sort();
      expect(statuses).toEqual([201, 201, 201, 422, 422, 422, 422, 422]);
      expect(await ordersOf(user)).toBe(3);
    }
  });
});
