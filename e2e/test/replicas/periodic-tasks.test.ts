import type { EventEnvelope } from '@ecom/common/bus';
import { describeIfServer } from '@ecom/infrastructure/testing';
import { MockPaymentGateway, type ChargeRequest, type ChargeResult } from '@ecom/payment-service';
import {
  loadProductConfig,
  productService,
  type RunningProductService,
} from '@ecom/product-service';
import { testServiceEnv } from '@ecom/test-support';
import { Saga, eventually } from '../saga/harness';

/** The provider: down (every charge throws, nothing recorded) until `down` is cleared. */
class SwitchableGateway extends MockPaymentGateway {
  down = false;
  override async charge(request: ChargeRequest): Promise<ChargeResult> {
    if (this.down) throw new Error('gateway down (test)');
    return super.charge(request);
  }
}

const ORDERS = 8;
const LONG = '3600000';
const HELD_MS = 4000;

/**
 * The periodic tasks of two replicas running at once over the same due rows: order's sweeper
 * (expired reservations), payment's reconciler (charges whose result was never recorded) and
 * product's reservation checker. Each piece of work must happen once: one event per order,
 * one gateway call per charge.
 */
describeIfServer('amqp', 'periodic tasks of two replicas', (url) => {
  const gateway = new SwitchableGateway();
  const overdue: EventEnvelope[] = [];
  let saga: Saga;
  let product2: RunningProductService;

  beforeAll(async () => {
    saga = await new Saga({
      kind: 'rabbitmq',
      url,
      label: 'replicas_periodic',
      replicas: 2,
      captureLogs: false,
      gateway,
      env: {
        // Timers far apart: the test runs the passes itself, both replicas at once.
        // One customer holds many orders unpaid here, on purpose (what the passes act on).
        order: {
          SWEEP_INTERVAL_MS: LONG,
          RESERVATION_TTL_MS: '2500',
          UNPAID_HOLD_MAX_ORDERS: '1000',
        },
        payment: { RECONCILE_INTERVAL_MS: LONG, RECONCILE_AFTER_MS: '0' },
        product: {
          RESERVATION_CHECK_INTERVAL_MS: LONG,
          RESERVATION_CHECK_AFTER_MS: String(HELD_MS),
        },
      },
    }).start();
    product2 = await productService.start({
      config: loadProductConfig({
        ...testServiceEnv,
        MONGO_URL: saga.mongoUrl,
        CACHE_DRIVER: 'off',
        RESERVATION_CHECK_INTERVAL_MS: LONG,
        RESERVATION_CHECK_AFTER_MS: String(HELD_MS),
      }),
      bus: saga.connectBus('product#2'),
    });
    await saga.connectBus('tap').subscribe({
      group: 'replicas-periodic-tap',
      eventTypes: ['inventory.reservation.overdue'],
      handler: async (event) => {
        overdue.push(event);
      },
    });
  }, 60000);

  afterAll(async () => {
    await product2?.stop().catch(() => undefined);
    await saga?.close();
  });

  async function placeUnpaid(productId: string): Promise<string[]> {
    const ids: string[] = [];
    for (let i = 0; i < ORDERS; i++) {
      ids.push((await saga.placeOrder([{ productId, quantity: 1 }], null)).id);
    }
    for (const id of ids) await saga.waitOrder(id, 'AWAITING_PAYMENT');
    return ids;
  }

  test("product's reservation checker on two replicas asks about each held reservation once", async () => {
    const productId = await saga.createProduct(100);
    const ids = await placeUnpaid(productId);
    // Held longer than the threshold; a claim is taken again only a threshold later, longer
    // than these passes last, so each reservation is due exactly once here.
    await new Promise((r) => setTimeout(r, HELD_MS + 100));
    const asked = await Promise.all(
      [saga.product, product2, saga.product, product2].map((p) =>
        p.inventory.askAboutOverdue(HELD_MS),
      ),
    );
    expect(asked.reduce((a, b) => a + b, 0)).toBe(ORDERS);
    const distinct = (orderId: string) =>
      new Set(
        overdue
          .filter((e) => (e.data as { orderId: string }).orderId === orderId)
          .map((e) => e.eventId),
      ).size;
    await eventually(() => ids.every((id) => distinct(id) >= 1), 'every reservation asked about');
    await saga.settle(300);
    for (const id of ids) expect({ id, asked: distinct(id) }).toEqual({ id, asked: 1 });
  }, 60000);

  test("order's sweeper on two replicas expires each reservation once", async () => {
    const productId = await saga.createProduct(100);
    const ids = await placeUnpaid(productId);
    await eventually(async () => {
      const { rows } = await saga.order.pool.query(
        `SELECT count(*) AS n FROM orders WHERE id = ANY($1::uuid[]) AND reservation_expires_at < now()`,
        [ids],
      );
      return Number(rows[0].n) === ORDERS;
    }, 'every reservation past its expiry');
    // Every order still waiting for payment is due (the other tests' too).
    const { rows: due } = await saga.order.pool.query(
      `SELECT count(*) AS n FROM orders WHERE status = 'AWAITING_PAYMENT'`,
    );
    const passes = await Promise.all([0, 1, 0, 1].map((i) => saga.orders[i].timers.sweep()));
    expect(passes.reduce((n, p) => n + p.expired, 0)).toBe(Number(due[0].n));
    for (const id of ids) await saga.waitOrder(id, 'CANCELLED');
    await saga.settle(300);
    for (const id of ids) {
      expect({ id, cancelled: saga.of('order.cancelled', id).length }).toEqual({
        id,
        cancelled: 1,
      });
      const { rows } = await saga.order.pool.query(
        `SELECT count(*) AS n FROM order_status_history WHERE order_id = $1 AND to_status = 'CANCELLED'`,
        [id],
      );
      expect(Number(rows[0].n)).toBe(1);
    }
    await eventually(
      async () => (await saga.stock(productId)).available === 100,
      'stock released once per order',
    );
    expect(await saga.stock(productId)).toMatchObject({ available: 100, reserved: 0 });
  }, 60000);

  test("payment's reconciler on two replicas calls the gateway once per unrecorded charge", async () => {
    const productId = await saga.createProduct(100);
    gateway.down = true;
    const ids: string[] = [];
    for (let i = 0; i < ORDERS; i++) {
      ids.push((await saga.placeOrder([{ productId, quantity: 1 }], 'tok_visa')).id);
    }
    // Each charge was claimed (attempt PENDING) but the provider never answered.
    await eventually(async () => {
      const { rows } = await saga.payment.pool.query(
        `SELECT count(*) AS n FROM payment_attempts a JOIN payments p ON p.id = a.payment_id
          WHERE p.order_id = ANY($1) AND a.status = 'PENDING'`,
        [ids],
      );
      return Number(rows[0].n) === ORDERS;
    }, 'every charge claimed and left pending');
    const before = gateway.calls.length;
    gateway.down = false;
    const done = await Promise.all([0, 1, 0, 1].map((i) => saga.payments[i].reconciliation.run(0)));
    const calls = gateway.calls.slice(before);
    for (const id of ids) {
      const mine = calls.filter((c) => c.idempotencyKey.startsWith(`${id}:`));
      expect({ id, gatewayCalls: mine.length }).toEqual({ id, gatewayCalls: 1 });
    }
    expect(done.reduce((a, b) => a + b, 0)).toBe(ORDERS);
    for (const id of ids) await saga.waitOrder(id, 'CONFIRMED');
    await saga.settle(300);
    for (const id of ids) {
      expect(saga.of('payment.completed', id)).toHaveLength(1);
      expect(await gateway.chargesMade({ keyPrefix: `${id}:` })).toBe(1);
    }
  }, 90000);
});
