import type { Pool } from 'pg';
import { runMigrations } from '@ecom/common/postgres';
import { createTestPostgres, type TestPostgres, testPool } from '@ecom/test-support';
import { paymentMigrations } from '../src/store/migrations';
import { paymentSnapshot } from '../src/store/payment-record';

/**
 * The payment's snapshot is what its anchored entries describe: one value read differently and
 * every payment anchored before would verify TAMPERED. It is read in one statement, attempts
 * and refunds through JSON; here exact rows give exactly the values the per-table reading gave.
 */
describe('paymentSnapshot (real PostgreSQL)', () => {
  let db: TestPostgres;
  let pool: Pool;
  const id = '5d7c1f0e-2a3b-4c5d-8e9f-0a1b2c3d4e5f';
  const orderId = '6e8d2a1f-3b4c-4d5e-9f0a-1b2c3d4e5f60';
  const refundId = '7f9e3b2a-4c5d-4e6f-8a1b-2c3d4e5f6071';

  beforeAll(async () => {
    db = await createTestPostgres('payment_record');
    pool = testPool(db.url, 2);
    await runMigrations(pool, paymentMigrations);
    await pool.query(
      `INSERT INTO payments (id, order_id, user_id, amount_cents, currency, method, token, status,
         attempts, charge_id, refunded_cents, order_known, reserved, created_at)
       VALUES ($1, $2, 'user-1', 9007199254740, 'EUR', 'card', NULL, 'PENDING', 2, 'ch_1', 100,
         true, true, '2026-01-02 03:04:05.678999+00')`,
      [id, orderId],
    );
    await pool.query(
      `INSERT INTO payment_attempts (payment_id, attempt, idempotency_key, source, method, status,
         charge_id, failure_code, failure_reason, created_at, completed_at)
       VALUES ($1, 2, 'k-2', 'initiate', 'card', 'SUCCEEDED', 'ch_1', NULL, NULL,
               '2026-01-02 03:05:00.1+00', '2026-01-02 03:05:00.999999+00'),
              ($1, 1, 'k-1', 'order', 'card', 'FAILED', NULL, 'card_declined', 'Declined "hard"',
               '2026-01-02 03:04:06+00', NULL)`,
      [id],
    );
    await pool.query(
      `INSERT INTO refunds (id, payment_id, amount_cents, currency, reason, cause, idempotency_key,
         status, requested_by, created_at)
       VALUES ($1, $2, 100, 'EUR', 'damaged', 'admin', 'rk-1', 'PENDING', 'admin-1',
               '2026-01-03 00:00:00.000999+00')`,
      [refundId, id],
    );
  });

  afterAll(async () => {
    await pool?.end();
    await db?.cleanup();
  });

  it('reads the payment, its attempts and its refunds as they were always read', async () => {
    expect(await paymentSnapshot(pool, id)).toEqual({
      state: {
        paymentId: id,
        orderId,
        userId: 'user-1',
        status: 'PENDING',
        amount: 9007199254740,
        currency: 'EUR',
        refunded: 100,
        method: 'card',
        attempts: 2,
        chargeId: 'ch_1',
        failureCode: null,
        failureReason: null,
        orderKnown: true,
        reserved: true,
        orderClosed: null,
        createdAt: '2026-01-02T03:04:05.678Z',
      },
      rows: {
        'attempt:1': {
          kind: 'attempt',
          attempt: 1,
          source: 'order',
          method: 'card',
          status: 'FAILED',
          chargeId: null,
          failureCode: 'card_declined',
          failureReason: 'Declined "hard"',
          createdAt: '2026-01-02T03:04:06.000Z',
          completedAt: null,
        },
        'attempt:2': {
          kind: 'attempt',
          attempt: 2,
          source: 'initiate',
          method: 'card',
          status: 'SUCCEEDED',
          chargeId: 'ch_1',
          failureCode: null,
          failureReason: null,
          createdAt: '2026-01-02T03:05:00.100Z',
          completedAt: '2026-01-02T03:05:00.999Z',
        },
        [`refund:${refundId}`]: {
          kind: 'refund',
          refundId,
          amount: 100,
          currency: 'EUR',
          reason: 'damaged',
          cause: 'admin',
          status: 'PENDING',
          gatewayRefundId: null,
          failureReason: null,
          requestedBy: 'admin-1',
          createdAt: '2026-01-03T00:00:00.000Z',
          completedAt: null,
        },
      },
    });
    expect(Object.keys((await paymentSnapshot(pool, id))!.rows)).toEqual([
      'attempt:1',
      'attempt:2',
      `refund:${refundId}`,
    ]);
    expect(await paymentSnapshot(pool, '00000000-0000-4000-8000-000000000000')).toBeNull();
  });
});
