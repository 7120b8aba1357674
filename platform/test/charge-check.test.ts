import { randomUUID } from 'node:crypto';
import type { Pool } from 'pg';
import { runMigrations } from '@ecom/common/postgres';
import { createTestPostgres, type TestPostgres, testPool } from '@ecom/test-support';
import { orderMigrations } from '../../services/order/src/store/migrations';
import { paymentMigrations } from '../../services/payment/src/store/migrations';
import { checkCharges, settledCharges } from '../bench/charge-check';

/**
 * The benches' check that nothing was charged twice or kept for an order that did not go
 * through, on the services' own schemas (real PostgreSQL).
 */
describe('checkCharges: what the saga must never do with money', () => {
  let orderDb: TestPostgres;
  let paymentDb: TestPostgres;
  let orders: Pool;
  let payments: Pool;
  let stores: { orderDbUrl: string; paymentDbUrl: string };

  beforeAll(async () => {
    orderDb = await createTestPostgres('charge_check_order');
    paymentDb = await createTestPostgres('charge_check_payment');
    orders = testPool(orderDb.url, 2);
    payments = testPool(paymentDb.url, 2);
    await runMigrations(orders, orderMigrations);
    await runMigrations(payments, paymentMigrations);
    stores = { orderDbUrl: orderDb.url, paymentDbUrl: paymentDb.url };
  });

  afterAll(async () => {
    await orders?.end();
    await payments?.end();
    await orderDb?.cleanup();
    await paymentDb?.cleanup();
  });

  /** An order in `status`, its payment in `paymentStatus`, and the provider's charges. */
  async function order(
    status: string,
    paymentStatus: string | null,
    charges: Array<'kept' | 'partly refunded' | 'refunded' | 'declined'>,
  ): Promise<string> {
    const id = randomUUID();
    await orders.query(
      `INSERT INTO orders (id, user_id, status, currency, total_cents, shipping_address, correlation_id)
       VALUES ($1, 'user-1', $2, 'USD', 999, '{}', 'corr')`,
      [id, status],
    );
    if (paymentStatus)
      await payments.query(
        `INSERT INTO payments (id, order_id, amount_cents, currency, status) VALUES ($1, $2, 999, 'USD', $3)`,
        [randomUUID(), id, paymentStatus],
      );
    for (const [i, charge] of charges.entries()) {
      await payments.query(
        `INSERT INTO mock_gateway_charges (idempotency_key, fingerprint, amount_cents, currency,
           charge_id, failure_code, refunded_cents)
         VALUES ($1, 'f', 999, 'USD', $2, $3, $4)`,
        [
          `${id}:${i + 1}`,
          charge === 'declined' ? null : `ch_${randomUUID()}`,
          charge === 'declined' ? 'card_declined' : null,
          charge === 'refunded' ? 999 : charge === 'partly refunded' ? 500 : 0,
        ],
      );
    }
    return id;
  }

  it('finds nothing wrong when each confirmed order has one payment and one charge kept', async () => {
    const once = await order('CONFIRMED', 'COMPLETED', ['kept']);
    // A declined try and a refunded charge are not kept charges.
    const retried = await order('CONFIRMED', 'COMPLETED', ['declined', 'refunded', 'kept']);
    // A charge refunded in part is still kept.
    const partly = await order('DELIVERED', 'COMPLETED', ['partly refunded']);
    const partlyShipped = await order('PARTIALLY_SHIPPED', 'COMPLETED', ['kept']);
    const shipped = await order('SHIPPED', 'COMPLETED', ['kept']);
    const failedClean = await order('FAILED', 'FAILED', ['declined']);
    const cancelledRefunded = await order('CANCELLED', 'REFUNDED', ['refunded']);
    const inFlight = await order('PAYMENT_PROCESSING', 'PROCESSING', []);

    const check = await checkCharges(stores, [
      once,
      retried,
      partly,
      partlyShipped,
      shipped,
      failedClean,
      cancelledRefunded,
      inFlight,
    ]);
    expect(check).toEqual({
      confirmed: 5,
      closed: 2,
      open: 1,
      chargesInFlight: 0,
      missing: 0,
      doubleCharged: 0,
      chargedWithoutOrder: 0,
      confirmedWithoutOnePayment: 0,
      confirmedUncharged: 0,
      problems: [],
    });
    expect((await checkCharges(stores, [])).problems).toEqual([]);
  });

  it('names a charge twice, a confirmed order not charged or not paid, a charge kept for an order that did not go through, and an order the database lacks', async () => {
    const twice = await order('CONFIRMED', 'COMPLETED', ['kept', 'kept']);
    const unpaid = await order('CONFIRMED', 'PROCESSING', ['kept']);
    const uncharged = await order('CONFIRMED', 'COMPLETED', []);
    const keptForFailed = await order('FAILED', 'FAILED', ['kept']);
    const keptForCancelled = await order('CANCELLED', 'CANCELLED', ['partly refunded']);
    // In flight with one charge: it may be on its way to its confirmation, so it is not judged.
    const inFlight = await order('PAYMENT_PROCESSING', 'PROCESSING', ['kept']);
    // In flight and charged twice already: that is judged.
    const inFlightTwice = await order('PAYMENT_PROCESSING', 'PROCESSING', ['kept', 'kept']);
    // Accepted, charged, and not in the order database.
    const lost = randomUUID();
    await payments.query(
      `INSERT INTO mock_gateway_charges (idempotency_key, fingerprint, amount_cents, currency, charge_id)
       VALUES ($1, 'f', 999, 'USD', $2)`,
      [`${lost}:1`, `ch_${randomUUID()}`],
    );
    // Not one of the run's orders: its double charge is another run's.
    await order('CONFIRMED', 'COMPLETED', ['kept', 'kept']);

    const check = await checkCharges(stores, [
      twice,
      unpaid,
      uncharged,
      keptForFailed,
      keptForCancelled,
      inFlight,
      inFlightTwice,
      lost,
    ]);
    expect(check).toMatchObject({
      confirmed: 3,
      closed: 2,
      open: 2,
      missing: 1,
      doubleCharged: 2,
      chargedWithoutOrder: 3,
      confirmedWithoutOnePayment: 1,
      confirmedUncharged: 1,
    });
    expect(check.problems).toEqual([
      '1 accepted orders missing from the order database',
      '2 orders charged twice',
      '3 orders that did not go through whose charge is kept',
      '1 confirmed orders without exactly one completed payment',
      '1 confirmed orders never charged at the gateway',
    ]);
  });

  it("settledCharges waits for a failed order's refund and for a charge on its way, and gives up at its bound", async () => {
    const failed = await order('FAILED', 'FAILED', ['kept']);
    // The refund lands a moment after the failure, as payment's does.
    const refund = setTimeout(() => {
      void payments.query(
        `UPDATE mock_gateway_charges SET refunded_cents = amount_cents WHERE idempotency_key = $1`,
        [`${failed}:1`],
      );
    }, 800);
    try {
      const settled = await settledCharges(stores, [failed], 20_000);
      expect(settled.problems).toEqual([]);
    } finally {
      clearTimeout(refund);
    }

    // A charge on its way for an order that failed (its payment still PROCESSING): not yet
    // kept, so nothing is broken, but the check waits for it.
    const racing = await order('FAILED', 'PROCESSING', []);
    const decided = setTimeout(() => {
      void payments.query(`UPDATE payments SET status = 'FAILED' WHERE order_id = $1`, [racing]);
    }, 800);
    try {
      const waited = Date.now();
      const settled = await settledCharges(stores, [racing], 20_000);
      expect(settled).toMatchObject({ chargesInFlight: 0, problems: [] });
      expect(Date.now() - waited).toBeGreaterThanOrEqual(700);
    } finally {
      clearTimeout(decided);
    }

    const neverRefunded = await order('FAILED', 'FAILED', ['kept']);
    const started = Date.now();
    const last = await settledCharges(stores, [neverRefunded], 1200);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1200);
    expect(last.problems).toEqual(['1 orders that did not go through whose charge is kept']);
  });

  it('settledCharges reads again while a database is unreachable, and fails only at its bound', async () => {
    const down = { ...stores, paymentDbUrl: 'postgres://postgres@127.0.0.1:1/payment' };
    const started = Date.now();
    await expect(settledCharges(down, [randomUUID()], 1200)).rejects.toThrow();
    expect(Date.now() - started).toBeGreaterThanOrEqual(1200);
  });
});
