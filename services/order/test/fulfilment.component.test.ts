import request from 'supertest';
import type { Pool } from 'pg';
import type { AuthUser } from '@ecom/common/auth';
import { pendingChanges, sameContent } from '@ecom/common/anchoring';
import { createEvent, type InMemoryEventBus } from '@ecom/common/bus';
import { eventually, requestsAs, type recordingAnchor } from '@ecom/test-support';
import type { RunningOrderService } from '../src/service';
import { orderSnapshot } from '../src/store/order-record';
import { startOrderUnderTest } from './support/helpers';

/**
 * Fulfilment per seller (docs/adr/0013), over HTTP against the real PostgreSQL: issue 19 item 5,
 * "a seller owning one line of a two-seller order can move the whole order to SHIPPED and
 * DELIVERED, while GET of that order by the same seller answers 404".
 */

const admin = { id: 'user-admin', role: 'admin' as const };
const sellerA = { id: 'seller-a', role: 'seller' as const };
const sellerB = { id: 'seller-b', role: 'seller' as const };
/** A seller with no line in any order of this file. */
const sellerC = { id: 'seller-c', role: 'seller' as const };

const address = {
  name: 'Cora Buyer',
  line1: '1 Main St',
  city: 'Springfield',
  postalCode: '12345',
  country: 'US',
};

/** Shape of an item in the answers. */
interface Item {
  lineNo: number;
  productId: string;
  sellerId: string;
  fulfilmentStatus: string;
  shippedAt: string | null;
  deliveredAt: string | null;
}

describe('fulfilment per seller (real PostgreSQL, PUT /api/orders/:id/status)', () => {
  let h: Awaited<ReturnType<typeof startOrderUnderTest>>;
  let bus: InMemoryEventBus;
  let service: RunningOrderService;
  let pool: Pool;
  let anchor: ReturnType<typeof recordingAnchor>;

  beforeAll(async () => {
    h = await startOrderUnderTest({
      label: 'order_fulfilment',
      products: [
        { id: 'p-a1', name: 'A one', priceCents: 1000, sellerId: sellerA.id },
        { id: 'p-a2', name: 'A two', priceCents: 300, sellerId: sellerA.id },
        { id: 'p-b1', name: 'B one', priceCents: 2500, sellerId: sellerB.id },
      ],
    });
    ({ bus, service, pool, anchor } = h);
  });

  afterAll(() => h?.close());

  const api = () => request(service.app);
  const asUser = (user: AuthUser) => requestsAs(api, user);
  const setStatus = (id: string, user: AuthUser, status: string) =>
    asUser(user).put(`/api/orders/${id}/status`).send({ status });
  const getOrder = (id: string, user: AuthUser) => asUser(user).get(`/api/orders/${id}`);

  async function deliver(type: string, data: Record<string, unknown>, source = 'test') {
    const event = createEvent(source, type, data);
    await bus.publish(event);
    return event;
  }

  const statusOf = async (id: string) =>
    (await pool.query('SELECT status FROM orders WHERE id = $1', [id])).rows[0]?.status as string;

  const waitStatus = (id: string, status: string) =>
    eventually(async () => (await statusOf(id)) === status, { what: `order ${id} ${status}` });

  /** The lines as stored: who sells them, their fulfilment, who moved them. */
  const linesOf = async (id: string) =>
    (
      await pool.query(
        `SELECT line_no, seller_id, fulfilment_status, shipped_by, delivered_by
           FROM order_items WHERE order_id = $1 ORDER BY line_no`,
        [id],
      )
    ).rows.map((r) => ({
      lineNo: r.line_no as number,
      sellerId: r.seller_id as string,
      fulfilment: r.fulfilment_status as string | null,
      shippedBy: r.shipped_by as string | null,
      deliveredBy: r.delivered_by as string | null,
    }));

  /**
   * Every event order wrote for the order, in order: the outbox keeps each row (sent or not),
   * and an event is written in the transaction of its change, so this is exact at once.
   */
  const eventsOf = async (id: string) =>
    (
      await pool.query(
        `SELECT event_type FROM event_outbox WHERE payload->'data'->>'orderId' = $1 ORDER BY id`,
        [id],
      )
    ).rows.map((r) => r.event_type as string);

  const transitionsOf = async (id: string) =>
    (
      await pool.query(
        `SELECT from_status, to_status, actor_id FROM order_status_history
          WHERE order_id = $1 AND from_status IS NOT NULL ORDER BY id`,
        [id],
      )
    ).rows.map((r) => [r.from_status, r.to_status, r.actor_id] as [string, string, string | null]);

  const PAID: Array<[string, string, string | null]> = [
    ['PENDING', 'PAYMENT_PROCESSING', null],
    ['PAYMENT_PROCESSING', 'CONFIRMED', null],
  ];

  /**
   * A paid order of `customer` holding lines of two sellers: line 1 and 3 are seller A's
   * (p-a1, p-a2), line 2 seller B's (p-b1).
   */
  async function twoSellerOrder(customer: AuthUser = { id: 'user-cora', role: 'customer' }) {
    const res = await asUser(customer)
      .post('/api/orders')
      .send({
        items: [
          { productId: 'p-a1', quantity: 2 },
          { productId: 'p-b1', quantity: 1 },
          { productId: 'p-a2', quantity: 1 },
        ],
        payment: { method: 'card', token: 'tok_visa' },
        shippingAddress: address,
      });
    expect(res.status).toBe(201);
    const id = res.body.id as string;
    await deliver('inventory.reserved', { orderId: id, items: [] }, 'product-service');
    await waitStatus(id, 'PAYMENT_PROCESSING');
    await deliver('payment.completed', {
      paymentId: `pay-${id}`,
      orderId: id,
      amount: { amount: 4800, currency: 'USD' },
    });
    await waitStatus(id, 'CONFIRMED');
    return { id, customer };
  }

  const fulfilmentOf = (items: Item[]) => items.map((i) => [i.productId, i.fulfilmentStatus]);

  it("a seller's SHIPPED ships their own lines only: the order is PARTIALLY_SHIPPED and the other seller's line is untouched", async () => {
    const { id } = await twoSellerOrder();
    const res = await setStatus(id, sellerA, 'SHIPPED');
    expect(res.status).toBe(200);
    // The answer is seller A's view: their lines, their subtotal, nothing of seller B's.
    expect(res.body).toMatchObject({
      id,
      status: 'PARTIALLY_SHIPPED',
      sellerTotal: { amount: 2 * 1000 + 300, currency: 'USD' },
      shippingAddress: address,
    });
    expect(fulfilmentOf(res.body.items)).toEqual([
      ['p-a1', 'SHIPPED'],
      ['p-a2', 'SHIPPED'],
    ]);
    for (const key of ['total', 'paymentId', 'userId', 'refunded']) {
      expect(res.body).not.toHaveProperty(key);
    }
    expect(JSON.stringify(res.body)).not.toContain('p-b1');

    expect(await statusOf(id)).toBe('PARTIALLY_SHIPPED');
    expect(await linesOf(id)).toEqual([
      {
        lineNo: 1,
        sellerId: 'seller-a',
        fulfilment: 'SHIPPED',
        shippedBy: 'seller-a',
        deliveredBy: null,
      },
      { lineNo: 2, sellerId: 'seller-b', fulfilment: null, shippedBy: null, deliveredBy: null },
      {
        lineNo: 3,
        sellerId: 'seller-a',
        fulfilment: 'SHIPPED',
        shippedBy: 'seller-a',
        deliveredBy: null,
      },
    ]);
    // The whole order (admin): B's line still to ship; the change recorded with its actor.
    const full = await getOrder(id, admin);
    expect(full.body.status).toBe('PARTIALLY_SHIPPED');
    const b = (full.body.items as Item[]).find((i) => i.sellerId === 'seller-b')!;
    expect(b).toMatchObject({
      fulfilmentStatus: 'UNFULFILLED',
      shippedAt: null,
      deliveredAt: null,
    });
    expect(Date.parse(full.body.items[0].shippedAt)).not.toBeNaN();
    expect(await transitionsOf(id)).toEqual([
      ...PAID,
      ['CONFIRMED', 'PARTIALLY_SHIPPED', 'seller-a'],
    ]);
    // Each shipment is announced to the customer (order.shipped); the order's status has no event.
    expect(await eventsOf(id)).toEqual(['order.created', 'order.confirmed', 'order.shipped']);
  });

  it("a seller cannot touch another seller's line: shipping again is 409, delivering moves their own lines only", async () => {
    const { id } = await twoSellerOrder();
    expect((await setStatus(id, sellerA, 'SHIPPED')).status).toBe(200);

    const again = await setStatus(id, sellerA, 'SHIPPED');
    expect(again.status).toBe(409);
    expect(again.body.error.details).toEqual({
      status: 'PARTIALLY_SHIPPED',
      requested: 'SHIPPED',
      fulfilmentStatus: 'SHIPPED',
      fulfilmentAllowedFrom: ['UNFULFILLED'],
    });

    const delivered = await setStatus(id, sellerA, 'DELIVERED');
    expect(delivered.status).toBe(200);
    expect(delivered.body.status).toBe('PARTIALLY_SHIPPED');
    expect(fulfilmentOf(delivered.body.items)).toEqual([
      ['p-a1', 'DELIVERED'],
      ['p-a2', 'DELIVERED'],
    ]);
    expect((await linesOf(id)).map((l) => [l.sellerId, l.fulfilment])).toEqual([
      ['seller-a', 'DELIVERED'],
      ['seller-b', null],
      ['seller-a', 'DELIVERED'],
    ]);
    expect(await statusOf(id)).toBe('PARTIALLY_SHIPPED');
    expect(await eventsOf(id)).not.toContain('order.completed');

    // Seller B's line is B's to move, and only once shipped can it be delivered.
    const early = await setStatus(id, sellerB, 'DELIVERED');
    expect(early.status).toBe(409);
    expect(early.body.error.details).toMatchObject({ fulfilmentStatus: 'UNFULFILLED' });

    // Each seller reads the order they act on, and sees only their own lines of it.
    const seenByA = await getOrder(id, sellerA);
    expect(seenByA.status).toBe(200);
    expect(fulfilmentOf(seenByA.body.items)).toEqual([
      ['p-a1', 'DELIVERED'],
      ['p-a2', 'DELIVERED'],
    ]);
    expect(seenByA.body).not.toHaveProperty('total');
    const seenByB = await getOrder(id, sellerB);
    expect(fulfilmentOf(seenByB.body.items)).toEqual([['p-b1', 'UNFULFILLED']]);
  });

  it('a seller with no line in the order gets 404 (as for GET) and changes nothing; its customer 403', async () => {
    const { id, customer } = await twoSellerOrder();
    for (const status of ['SHIPPED', 'DELIVERED']) {
      const res = await setStatus(id, sellerC, status);
      expect(res.status).toBe(404);
      expect(res.body.error.code).toBe('NOT_FOUND');
    }
    expect((await getOrder(id, sellerC)).status).toBe(404);
    expect((await setStatus(id, customer, 'SHIPPED')).status).toBe(403);
    expect(await statusOf(id)).toBe('CONFIRMED');
    expect((await linesOf(id)).every((l) => l.fulfilment === null)).toBe(true);
    expect(await transitionsOf(id)).toEqual(PAID);
  });

  it('refuses a seller shipping before the order is paid (409), as for an admin', async () => {
    const res = await asUser({ id: 'user-cora', role: 'customer' })
      .post('/api/orders')
      .send({ items: [{ productId: 'p-a1', quantity: 1 }], shippingAddress: address });
    const refused = await setStatus(res.body.id, sellerA, 'SHIPPED');
    expect(refused.status).toBe(409);
    expect(refused.body.error.details).toEqual({
      status: 'PENDING',
      requested: 'SHIPPED',
      allowedFrom: ['CONFIRMED', 'PARTIALLY_SHIPPED'],
    });
    expect(await statusOf(res.body.id)).toBe('PENDING');
  });

  it('is SHIPPED when both sellers shipped and DELIVERED (order.completed, once) when both delivered', async () => {
    const { id } = await twoSellerOrder();
    expect((await setStatus(id, sellerA, 'SHIPPED')).body.status).toBe('PARTIALLY_SHIPPED');
    const bShipped = await setStatus(id, sellerB, 'SHIPPED');
    expect(bShipped.status).toBe(200);
    expect(bShipped.body.status).toBe('SHIPPED');
    expect(fulfilmentOf(bShipped.body.items)).toEqual([['p-b1', 'SHIPPED']]);
    expect(await statusOf(id)).toBe('SHIPPED');

    const aDelivered = await setStatus(id, sellerA, 'DELIVERED');
    expect(aDelivered.body.status).toBe('SHIPPED');
    expect(await eventsOf(id)).not.toContain('order.completed');

    const bDelivered = await setStatus(id, sellerB, 'DELIVERED');
    expect(bDelivered.status).toBe(200);
    expect(bDelivered.body.status).toBe('DELIVERED');
    expect(await statusOf(id)).toBe('DELIVERED');
    expect(await eventsOf(id)).toEqual([
      'order.created',
      'order.confirmed',
      'order.shipped',
      'order.shipped',
      'order.completed',
    ]);

    expect(await transitionsOf(id)).toEqual([
      ...PAID,
      ['CONFIRMED', 'PARTIALLY_SHIPPED', 'seller-a'],
      ['PARTIALLY_SHIPPED', 'SHIPPED', 'seller-b'],
      ['SHIPPED', 'DELIVERED', 'seller-b'],
    ]);
    expect(await linesOf(id)).toEqual([
      {
        lineNo: 1,
        sellerId: 'seller-a',
        fulfilment: 'DELIVERED',
        shippedBy: 'seller-a',
        deliveredBy: 'seller-a',
      },
      {
        lineNo: 2,
        sellerId: 'seller-b',
        fulfilment: 'DELIVERED',
        shippedBy: 'seller-b',
        deliveredBy: 'seller-b',
      },
      {
        lineNo: 3,
        sellerId: 'seller-a',
        fulfilment: 'DELIVERED',
        shippedBy: 'seller-a',
        deliveredBy: 'seller-a',
      },
    ]);
    // A closed order moves no line.
    expect((await setStatus(id, sellerA, 'SHIPPED')).status).toBe(409);
    expect((await setStatus(id, admin, 'DELIVERED')).status).toBe(409);
  });

  it('two sellers shipping at the same moment both ship, and the order is SHIPPED once', async () => {
    const { id } = await twoSellerOrder();
    const [a, b] = await Promise.all([
      setStatus(id, sellerA, 'SHIPPED'),
      setStatus(id, sellerB, 'SHIPPED'),
    ]);
    expect([a.status, b.status]).toEqual([200, 200]);
    expect(await statusOf(id)).toBe('SHIPPED');
    expect((await transitionsOf(id)).map(([from, to]) => [from, to])).toEqual([
      ['PENDING', 'PAYMENT_PROCESSING'],
      ['PAYMENT_PROCESSING', 'CONFIRMED'],
      ['CONFIRMED', 'PARTIALLY_SHIPPED'],
      ['PARTIALLY_SHIPPED', 'SHIPPED'],
    ]);
  });

  it('an admin still moves the whole order: every line, one status change each', async () => {
    const { id } = await twoSellerOrder();
    const shipped = await setStatus(id, admin, 'SHIPPED');
    expect(shipped.status).toBe(200);
    // The admin's answer is the whole order, as before.
    expect(shipped.body).toMatchObject({ id, status: 'SHIPPED', total: { amount: 4800 } });
    expect(fulfilmentOf(shipped.body.items)).toEqual([
      ['p-a1', 'SHIPPED'],
      ['p-b1', 'SHIPPED'],
      ['p-a2', 'SHIPPED'],
    ]);
    const delivered = await setStatus(id, admin, 'DELIVERED');
    expect(delivered.status).toBe(200);
    expect(delivered.body.status).toBe('DELIVERED');
    expect((delivered.body.items as Item[]).every((i) => i.fulfilmentStatus === 'DELIVERED')).toBe(
      true,
    );
    expect(await transitionsOf(id)).toEqual([
      ...PAID,
      ['CONFIRMED', 'SHIPPED', admin.id],
      ['SHIPPED', 'DELIVERED', admin.id],
    ]);
    expect(await eventsOf(id)).toEqual([
      'order.created',
      'order.confirmed',
      'order.shipped',
      'order.completed',
    ]);
  });

  it("an admin completes a partially shipped order: ships what is left, keeps the seller's shipment", async () => {
    const { id } = await twoSellerOrder();
    await setStatus(id, sellerA, 'SHIPPED');
    const tooEarly = await setStatus(id, admin, 'DELIVERED');
    expect(tooEarly.status).toBe(409);
    expect(tooEarly.body.error.details).toEqual({
      status: 'PARTIALLY_SHIPPED',
      requested: 'DELIVERED',
      allowedFrom: ['SHIPPED'],
    });
    const shipped = await setStatus(id, admin, 'SHIPPED');
    expect(shipped.status).toBe(200);
    expect(shipped.body.status).toBe('SHIPPED');
    expect((await linesOf(id)).map((l) => [l.fulfilment, l.shippedBy])).toEqual([
      ['SHIPPED', 'seller-a'],
      ['SHIPPED', admin.id],
      ['SHIPPED', 'seller-a'],
    ]);
  });

  it('a partially shipped order can no longer be cancelled, by its customer or a deleted account', async () => {
    const customer = { id: `user-dora-${Date.now()}`, role: 'customer' as const };
    const { id } = await twoSellerOrder(customer);
    await setStatus(id, sellerA, 'SHIPPED');
    const cancel = await asUser(customer).put(`/api/orders/${id}/cancel`).send({});
    expect(cancel.status).toBe(409);
    // The refusal names the status that stopped it.
    expect(cancel.body.error.details).toEqual({ status: 'PARTIALLY_SHIPPED' });
    await deliver('user.deleted', { userId: customer.id }, 'auth-service');
    await bus.idle();
    expect(await statusOf(id)).toBe('PARTIALLY_SHIPPED');
    expect(await eventsOf(id)).not.toContain('order.cancelled');
  });

  describe('a full refund of a partially shipped order (docs/adr/0054)', () => {
    const refundInFull = (id: string, customer: AuthUser) =>
      deliver(
        'payment.refunded',
        {
          paymentId: `pay-${id}`,
          orderId: id,
          refundId: `r-${id}`,
          amount: { amount: 4800, currency: 'USD' },
          fullyRefunded: true,
          userId: customer.id,
        },
        'payment-service',
      );

    /** The data of every order.cancelled order wrote for the order. */
    const cancellationsOf = async (id: string) =>
      (
        await pool.query(
          `SELECT payload->'data' AS data FROM event_outbox
            WHERE event_type = 'order.cancelled' AND payload->'data'->>'orderId' = $1 ORDER BY id`,
          [id],
        )
      ).rows.map((r) => r.data as Record<string, unknown>);

    it('ends it: CANCELLED (REFUNDED), order.cancelled gives back only the lines not shipped, and no line ships after it (409, nothing changed)', async () => {
      const { id, customer } = await twoSellerOrder();
      expect((await setStatus(id, sellerA, 'SHIPPED')).body.status).toBe('PARTIALLY_SHIPPED');

      await refundInFull(id, customer);
      await waitStatus(id, 'CANCELLED');
      expect(await transitionsOf(id)).toEqual([
        ...PAID,
        ['CONFIRMED', 'PARTIALLY_SHIPPED', 'seller-a'],
        ['PARTIALLY_SHIPPED', 'CANCELLED', null],
      ]);
      // Product takes back the stock of seller B's line only: seller A's lines have left.
      expect(await cancellationsOf(id)).toEqual([
        {
          orderId: id,
          userId: customer.id,
          reason: 'REFUNDED',
          previousStatus: 'PARTIALLY_SHIPPED',
          items: [{ productId: 'p-b1', quantity: 1 }],
        },
      ]);
      const ended = await getOrder(id, admin);
      expect(ended.body).toMatchObject({ status: 'CANCELLED', refunded: { amount: 4800 } });
      expect(fulfilmentOf(ended.body.items)).toEqual([
        ['p-a1', 'SHIPPED'],
        ['p-b1', 'UNFULFILLED'],
        ['p-a2', 'SHIPPED'],
      ]);
      expect(anchor.of(id).at(-1)!.change).toMatchObject({
        kind: 'status',
        from: 'PARTIALLY_SHIPPED',
        to: 'CANCELLED',
      });

      const lines = await linesOf(id);
      const events = await eventsOf(id);
      const entries = anchor.of(id).length;
      const bShips = await setStatus(id, sellerB, 'SHIPPED');
      expect([bShips.status, bShips.body.error.code, bShips.body.error.details]).toEqual([
        409,
        'CONFLICT',
        {
          status: 'CANCELLED',
          requested: 'SHIPPED',
          allowedFrom: ['CONFIRMED', 'PARTIALLY_SHIPPED'],
        },
      ]);
      const adminShips = await setStatus(id, admin, 'SHIPPED');
      expect([adminShips.status, adminShips.body.error.details]).toEqual([
        409,
        {
          status: 'CANCELLED',
          requested: 'SHIPPED',
          allowedFrom: ['CONFIRMED', 'PARTIALLY_SHIPPED'],
        },
      ]);
      expect((await setStatus(id, sellerA, 'DELIVERED')).status).toBe(409);
      expect(await statusOf(id)).toBe('CANCELLED');
      expect(await linesOf(id)).toEqual(lines);
      expect(await eventsOf(id)).toEqual(events);
      expect(anchor.of(id)).toHaveLength(entries);

      // The refund redelivered changes nothing; product asking about the order hears the
      // same lines again.
      await refundInFull(id, customer);
      await bus.idle();
      expect(await cancellationsOf(id)).toHaveLength(1);
      await deliver(
        'inventory.reservation.overdue',
        { orderId: id, since: new Date().toISOString() },
        'product-service',
      );
      await eventually(async () => (await cancellationsOf(id)).length === 2);
      const [first, again] = await cancellationsOf(id);
      expect(again).toEqual(first);
    });

    it('raced by a shipment of the last line, either ends it before that line ships or leaves it SHIPPED', async () => {
      const { id, customer } = await twoSellerOrder();
      await setStatus(id, sellerA, 'SHIPPED');
      const [, shipped] = await Promise.all([
        refundInFull(id, customer),
        setStatus(id, sellerB, 'SHIPPED'),
      ]);
      await eventually(async () => {
        const refunded = await pool.query('SELECT 1 FROM order_refunds WHERE order_id = $1', [id]);
        return refunded.rowCount === 1;
      });
      await bus.idle();
      if (shipped.status === 200) {
        // Only a shipment that took the order's lock first: a refund recorded before it ended
        // the order.
        const { rows } = await pool.query(
          `SELECT i.shipped_at < r.at AS shipped_first
             FROM order_items i JOIN order_refunds r USING (order_id)
            WHERE i.order_id = $1 AND i.line_no = 2`,
          [id],
        );
        expect(rows).toEqual([{ shipped_first: true }]);
        expect(await statusOf(id)).toBe('SHIPPED');
        expect(await cancellationsOf(id)).toEqual([]);
      } else {
        expect(shipped.status).toBe(409);
        expect(await statusOf(id)).toBe('CANCELLED');
        expect((await linesOf(id)).map((l) => l.fulfilment)).toEqual(['SHIPPED', null, 'SHIPPED']);
        expect((await cancellationsOf(id))[0]!.items).toEqual([{ productId: 'p-b1', quantity: 1 }]);
      }
    });

    it('leaves a fully shipped order on its course: it is still delivered', async () => {
      const { id, customer } = await twoSellerOrder();
      await setStatus(id, admin, 'SHIPPED');
      await refundInFull(id, customer);
      await eventually(async () => (await getOrder(id, admin)).body.refunded.amount === 4800);
      await bus.idle();
      expect(await statusOf(id)).toBe('SHIPPED');
      expect(await cancellationsOf(id)).toEqual([]);
      expect((await setStatus(id, admin, 'DELIVERED')).body.status).toBe('DELIVERED');
    });
  });

  it('announces a partially shipped order as sold when product asks about its reservation', async () => {
    const { id } = await twoSellerOrder();
    await setStatus(id, sellerA, 'SHIPPED');
    await deliver(
      'inventory.reservation.overdue',
      { orderId: id, since: new Date().toISOString() },
      'product-service',
    );
    await eventually(async () => (await eventsOf(id)).length === 4);
    expect(await eventsOf(id)).toEqual([
      'order.created',
      'order.confirmed',
      'order.shipped',
      'order.confirmed',
    ]);
  });

  describe('anchoring', () => {
    /** What verification checks against the live rows: the entries describe the order now. */
    async function entriesDescribe(id: string) {
      const now = (await orderSnapshot(pool, id))!;
      const entries = anchor.of(id);
      const newest = entries[entries.length - 1]!;
      const missing = pendingChanges(
        entries.map((e) => ({ ...e, previousLeaf: '' })),
        now,
      );
      return missing.length === 0 && sameContent(newest.state, now.state);
    }

    const itemsOfEntry = (state: unknown) =>
      (state as { items: Array<Record<string, unknown>> }).items;

    it("records each line's fulfilment in the order's entries; lines never acted on keep the state they always had", async () => {
      const { id } = await twoSellerOrder();
      // Before any shipment: the very line shape anchored before fulfilment was kept per line.
      const before = (await orderSnapshot(pool, id))!;
      for (const item of itemsOfEntry(before.state)) {
        expect(Object.keys(item).sort()).toEqual([
          'lineNo',
          'lineTotal',
          'name',
          'productId',
          'quantity',
          'sellerId',
          'unitPrice',
        ]);
      }

      await setStatus(id, sellerA, 'SHIPPED');
      const shipped = anchor.of(id).at(-1)!;
      expect(shipped.change).toMatchObject({
        kind: 'status',
        from: 'CONFIRMED',
        to: 'PARTIALLY_SHIPPED',
      });
      const [a1, b1, a2] = itemsOfEntry(shipped.state);
      for (const a of [a1, a2]) {
        expect(a!.fulfilment).toEqual({
          status: 'SHIPPED',
          shippedAt: expect.any(String),
          shippedBy: 'seller-a',
          deliveredAt: null,
          deliveredBy: null,
        });
      }
      expect(b1).not.toHaveProperty('fulfilment');
      expect(await entriesDescribe(id)).toBe(true);

      // A change of lines alone (the order stays PARTIALLY_SHIPPED) has its own entry too.
      const count = anchor.of(id).length;
      await setStatus(id, sellerA, 'DELIVERED');
      const entries = anchor.of(id);
      expect(entries).toHaveLength(count + 1);
      expect(entries.at(-1)).toMatchObject({
        sourceId: 'state',
        change: { kind: 'state', fields: ['items'] },
      });
      expect(itemsOfEntry(entries.at(-1)!.state)[0]!.fulfilment).toMatchObject({
        status: 'DELIVERED',
        deliveredBy: 'seller-a',
      });
      expect(await entriesDescribe(id)).toBe(true);

      // A line's fulfilment edited in SQL no longer matches the entries.
      await pool.query(
        `UPDATE order_items SET fulfilment_status = 'DELIVERED' WHERE order_id = $1 AND line_no = 2`,
        [id],
      );
      expect(await entriesDescribe(id)).toBe(false);
    });

    it('delivers per seller an order shipped whole before lines were kept, its old entries still describing it', async () => {
      const { id } = await twoSellerOrder();
      // As the service wrote a shipment before migration 008: the order's status and history
      // row, nothing on the lines, and the entry for that change.
      const client = await pool.connect();
      try {
        await client.query('BEGIN');
        await client.query(`UPDATE orders SET status = 'SHIPPED' WHERE id = $1`, [id]);
        await client.query(
          `INSERT INTO order_status_history (order_id, from_status, to_status, cause_type, cause_id, actor_id)
           VALUES ($1, 'CONFIRMED', 'SHIPPED', 'request', 'req-legacy', 'seller-a')`,
          [id],
        );
        await anchor.record(client, { recordType: 'order', recordId: id });
        await client.query('COMMIT');
      } finally {
        client.release();
      }
      const legacy = anchor.of(id).at(-1)!;
      expect(legacy.change).toMatchObject({ to: 'SHIPPED' });
      expect(itemsOfEntry(legacy.state).some((i) => 'fulfilment' in i)).toBe(false);
      expect(await entriesDescribe(id)).toBe(true);
      // Its lines read as shipped, where the order is.
      expect(fulfilmentOf((await getOrder(id, admin)).body.items)).toEqual([
        ['p-a1', 'SHIPPED'],
        ['p-b1', 'SHIPPED'],
        ['p-a2', 'SHIPPED'],
      ]);

      const aDelivered = await setStatus(id, sellerA, 'DELIVERED');
      expect(aDelivered.status).toBe(200);
      expect(aDelivered.body.status).toBe('SHIPPED');
      expect((await linesOf(id)).map((l) => l.fulfilment)).toEqual([
        'DELIVERED',
        null,
        'DELIVERED',
      ]);
      expect(await entriesDescribe(id)).toBe(true);
      const bDelivered = await setStatus(id, sellerB, 'DELIVERED');
      expect(bDelivered.body.status).toBe('DELIVERED');
      expect(await eventsOf(id)).toEqual(['order.created', 'order.confirmed', 'order.completed']);
      // order.completed names the customer (notification no longer reads order.created).
      const completed = await pool.query(
        `SELECT payload->'data' AS data FROM event_outbox WHERE event_type = 'order.completed' AND payload->'data'->>'orderId' = $1`,
        [id],
      );
      expect(completed.rows).toEqual([{ data: { orderId: id, userId: 'user-cora' } }]);
      expect(await entriesDescribe(id)).toBe(true);
    });
  });
});
