import { randomUUID } from 'node:crypto';
import { Pool } from 'pg';
import { runMigrations } from '@ecom/common/postgres';
import { createTestPostgres, type TestPostgres } from '@ecom/test-support';
import { orderMigrations } from '../../services/order/src/store/migrations';
import { paymentMigrations } from '../../services/payment/src/store/migrations';
import { checkCharges } from '../bench/charge-check';

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
    orders = new Pool({ connectionString: orderDb.url, max: 2 });
    payments = new Pool({ connectionString: paymentDb.url, max: 2 });
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
    charges: Array<'kept' | 'refunded' | 'declined'>,
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
          charge === 'refunded' ? 999 : 0,
        ],
      );
    }
    return id;
  }

  it('finds nothing wrong when each confirmed order has one payment and one charge kept', async () => {
    const once = await order('CONFIRMED', 'COMPLETED', ['kept']);
    // A declined try and a refunded charge are not kept charges.
    const retried = await order('CONFIRMED', 'COMPLETED', ['declined', 'refunded', 'kept']);
    const shipped = await order('SHIPPED', 'COMPLETED', ['kept']);
    const failedClean = await order('FAILED', 'FAILED', ['declined']);
    const cancelledRefunded = await order('CANCELLED', 'REFUNDED', ['refunded']);
    const inFlight = await order('PAYMENT_PROCESSING', 'PROCESSING', []);

    const check = await checkCharges(stores, [
      once,
      retried,
      shipped,
      failedClean,
      cancelledRefunded,
      inFlight,
    ]);
    expect(check).toEqual({
      confirmed: 3,
      closed: 2,
      open: 1,
      doubleCharged: 0,
      chargedWithoutOrder: 0,
      confirmedWithoutOnePayment: 0,
      confirmedUncharged: 0,
      problems: [],
    });
  });

  it('names a charge twice, a confirmed order not charged or not paid, and a charge kept for a failed order', async () => {
    const twice = await order('CONFIRMED', 'COMPLETED', ['kept', 'kept']);
    const unpaid = await order('CONFIRMED', 'PROCESSING', ['kept']);
    const uncharged = await order('CONFIRMED', 'COMPLETED', []);
    const keptForFailed = await order('FAILED', 'FAILED', ['kept']);
    const keptForCancelled = await order('CANCELLED', 'CANCELLED', ['kept']);
    // Still in flight: its charge may be on its way to its confirmation, so it is not judged.
    const inFlight = await order('PAYMENT_PROCESSING', 'PROCESSING', ['kept']);
    // Not one of the run's orders: its double charge is another run's.
    await order('CONFIRMED', 'COMPLETED', ['kept', 'kept']);

    const check = await checkCharges(stores, [
      twice,
      unpaid,
      uncharged,
      keptForFailed,
      keptForCancelled,
      inFlight,
    ]);
    expect(check).toMatchObject({
      confirmed: 3,
      closed: 2,
      open: 1,
      doubleCharged: 1,
      chargedWithoutOrder: 2,
      confirmedWithoutOnePayment: 1,
      confirmedUncharged: 1,
    });
    expect(check.problems).toEqual([
      '1 orders charged twice',
      '2 charges kept for an order not confirmed',
      '1 confirmed orders without exactly one completed payment',
      '1 confirmed orders never charged at the gateway',
    ]);
  });
});
