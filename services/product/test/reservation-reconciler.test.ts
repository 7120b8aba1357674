import request from 'supertest';
import { createEvent } from '@ecom/common/bus';
import { bearer, spyOnEvents } from '@ecom/test-support';
import { Types } from 'mongoose';
import { newOrderId, orderConfirmed, orderCreated, seller, useHarness } from './support/helpers';

/**
 * The reservation reconciler: a reservation still held past RESERVATION_CHECK_AFTER_MS (an
 * order event was lost, e.g. dead-lettered while MongoDB was down) makes product ask order
 * (inventory.reservation.overdue); order's answer is handled by the usual handlers.
 */
const h = useHarness('product_reservation_reconciler');

const TWENTY_MINUTES = 20 * 60 * 1000;

/**
 * Order as the reconciler sees it: answers inventory.reservation.overdue as the order service
 * does (services/order, OrderSaga.onReservationOverdue) from the statuses set here.
 */
const orders = new Map<string, 'CONFIRMED' | 'CANCELLED' | 'FAILED' | 'AWAITING_PAYMENT'>();
let asked: Awaited<ReturnType<typeof spyOnEvents>>;

beforeAll(async () => {
  asked = await spyOnEvents(h.bus, ['inventory.reservation.overdue'], 'test-asked');
  await h.bus.subscribe({
    group: 'order-stand-in',
    eventTypes: ['inventory.reservation.overdue'],
    handler: async (event) => {
      const { orderId } = event.data as { orderId: string };
      const status = orders.get(orderId);
      const answer = (type: string, data: object) =>
        h.bus.publish(createEvent('order-service', type, data));
      if (status === 'CONFIRMED') await answer('order.confirmed', orderConfirmed(orderId, []));
      if (status === 'CANCELLED') {
        await answer('order.cancelled', {
          orderId,
          userId: 'customer-1',
          reason: 'cancelled by customer',
          previousStatus: 'AWAITING_PAYMENT',
          items: [],
        });
      }
      if (status === 'FAILED' || status === undefined) {
        await answer('order.failed', {
          orderId,
          reason: status ? 'PAYMENT_TIMEOUT' : 'UNKNOWN_ORDER',
          items: [],
        });
      }
      // An open order: order says nothing (its own timers move it).
    },
  });
});

async function product(inventory: number): Promise<string> {
  const res = await request(h.service.app)
    .post('/api/products')
    .set('Authorization', bearer(seller))
    .send({ name: 'Reconciled item', price: 12.5, inventory, lowStockThreshold: 0 });
  expect(res.status).toBe(201);
  return res.body.id as string;
}

async function stock(id: string) {
  const doc = await h.service.connection
    .collection('products')
    .findOne({ _id: new Types.ObjectId(id) });
  if (!doc) throw new Error(`no product ${id}`);
  return {
    available: doc.available as number,
    reserved: doc.reserved as number,
    sold: doc.sold as number,
    holds: doc.holds as Array<{ orderId: string; quantity: number }>,
  };
}

const total = (s: { available: number; reserved: number; sold: number }) =>
  s.available + s.reserved + s.sold;

const reservationStatus = async (orderId: string) =>
  (await h.service.connection.collection('reservations').findOne({ orderId }))?.status as string;

/** Reserves `quantity` of a new product (stock 10) for a new order, made `ageMs` ago. */
async function heldReservation(quantity: number, ageMs: number) {
  const productId = await product(10);
  const orderId = newOrderId();
  await h.deliver('order.created', orderCreated(orderId, [{ productId, quantity }]));
  expect(await reservationStatus(orderId)).toBe('reserved');
  // Straight through the driver: mongoose would stamp updatedAt again.
  await h.service.connection
    .collection('reservations')
    .updateOne({ orderId }, { $set: { updatedAt: new Date(Date.now() - ageMs) } });
  return { productId, orderId };
}

/** One pass of the reconciler, then every question, answer and handler on the bus. */
async function reconcile() {
  await h.service.reconciler.runOnce();
  await h.service.flushOutbox();
  await h.settle();
}

const askedAbout = (orderId: string) => asked.of('inventory.reservation.overdue', orderId);

describe('reservation reconciler', () => {
  it('turns a reservation whose order.confirmed was lost into a sale', async () => {
    const { productId, orderId } = await heldReservation(3, TWENTY_MINUTES + 1000);
    orders.set(orderId, 'CONFIRMED');
    // order.confirmed never reached product (dead-lettered): the stock stays reserved.
    expect(await stock(productId)).toMatchObject({ available: 7, reserved: 3, sold: 0 });

    await reconcile();

    expect(askedAbout(orderId)).toHaveLength(1);
    expect(askedAbout(orderId)[0]!.data).toEqual({ orderId, since: expect.any(String) });
    expect(askedAbout(orderId)[0]!.source).toBe('product-service');
    expect(await reservationStatus(orderId)).toBe('sold');
    const after = await stock(productId);
    expect(after).toEqual({ available: 7, reserved: 0, sold: 3, holds: [] });
    expect(total(after)).toBe(10);

    // Sold: never asked about again, and a late order.confirmed changes nothing.
    await h.deliver('order.confirmed', orderConfirmed(orderId, [{ productId, quantity: 3 }]));
    await h.service.connection
      .collection('reservations')
      .updateOne({ orderId }, { $set: { checkedAt: null } });
    await reconcile();
    expect(askedAbout(orderId)).toHaveLength(1);
    expect(await stock(productId)).toEqual(after);
  });

  it('releases a reservation whose order was cancelled (order.cancelled lost)', async () => {
    const { productId, orderId } = await heldReservation(4, TWENTY_MINUTES + 1000);
    orders.set(orderId, 'CANCELLED');

    await reconcile();

    expect(askedAbout(orderId)).toHaveLength(1);
    expect(await reservationStatus(orderId)).toBe('released');
    const after = await stock(productId);
    expect(after).toEqual({ available: 10, reserved: 0, sold: 0, holds: [] });
  });

  it('releases a reservation of a failed order, and of an order order does not know', async () => {
    const failed = await heldReservation(2, TWENTY_MINUTES + 1000);
    orders.set(failed.orderId, 'FAILED');
    const unknown = await heldReservation(5, TWENTY_MINUTES + 1000);

    await reconcile();

    for (const { productId, orderId } of [failed, unknown]) {
      expect(await reservationStatus(orderId)).toBe('released');
      expect(await stock(productId)).toEqual({ available: 10, reserved: 0, sold: 0, holds: [] });
    }
  });

  it('leaves a reservation of an order still in progress held, and asks again only after another interval', async () => {
    const { productId, orderId } = await heldReservation(2, TWENTY_MINUTES + 1000);
    orders.set(orderId, 'AWAITING_PAYMENT');

    await reconcile();
    expect(askedAbout(orderId)).toHaveLength(1);
    expect(await reservationStatus(orderId)).toBe('reserved');
    expect(await stock(productId)).toEqual({
      available: 8,
      reserved: 2,
      sold: 0,
      holds: [{ orderId, quantity: 2 }],
    });

    // Asked recently: not again in this interval.
    await reconcile();
    expect(askedAbout(orderId)).toHaveLength(1);

    // Another interval later it is asked again; by then the order went through.
    await h.service.connection
      .collection('reservations')
      .updateOne({ orderId }, { $set: { checkedAt: new Date(Date.now() - TWENTY_MINUTES - 1) } });
    orders.set(orderId, 'CONFIRMED');
    await reconcile();
    expect(askedAbout(orderId)).toHaveLength(2);
    expect(await stock(productId)).toEqual({ available: 8, reserved: 0, sold: 2, holds: [] });
  });

  it('does not ask about a reservation younger than RESERVATION_CHECK_AFTER_MS (20 min)', async () => {
    const { productId, orderId } = await heldReservation(1, TWENTY_MINUTES - 60_000);
    orders.set(orderId, 'CANCELLED');

    await reconcile();

    expect(askedAbout(orderId)).toHaveLength(0);
    expect(await reservationStatus(orderId)).toBe('reserved');
    expect(await stock(productId)).toMatchObject({ available: 9, reserved: 1, sold: 0 });
  });
});
